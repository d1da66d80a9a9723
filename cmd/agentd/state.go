package main

import "github.com/urfave/cli/v2"

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "print a container's OCI state as JSON",
	ArgsUsage: "ID",
	Description: `Prints ociVersion, id, status (creating, created, running, paused, stopped),
pid, bundle and annotations, plus rootfs and created.`,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		st, err := rt.State(c.Args().First())
		if err != nil {
			return err
		}
		return writeJSON(c, st)
	},
}
