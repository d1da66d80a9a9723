package main

import "github.com/urfave/cli/v2"

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete a stopped container (its state, cgroup and mounts)",
	ArgsUsage: "ID",
	Description: `Runs the poststop hooks and removes everything agentd made for the container.
A created container (its process never started) is killed and removed, as
runc does. A running or paused one is an error and is left untouched, unless
--force, which kills it first; --force on a missing container succeeds.`,
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it is not stopped"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		return rt.Delete(c.Args().First(), c.Bool("force"))
	},
}
