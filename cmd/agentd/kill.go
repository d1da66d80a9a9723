package main

import (
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	agentdruntime "github.com/agentd/agentd/runtime"
)

var killCommand = &cli.Command{
	Name:      "kill",
	Usage:     "send a signal to a container's init (default SIGTERM)",
	ArgsUsage: "ID [SIGNAL]",
	Description: `SIGNAL is a name (TERM, SIGKILL) or a number (9). With --all every process of
the container gets it. A stopped container cannot be signalled, except with
--all, which then reaches whatever is left in its cgroup and succeeds (as
runc does; a container sharing a PID namespace can outlive its init).`,
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process in the container"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 2); err != nil {
			return err
		}
		sig := unix.SIGTERM
		if s := c.Args().Get(1); s != "" {
			var err error
			if sig, err = agentdruntime.ParseSignal(s); err != nil {
				return err
			}
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		return rt.Kill(c.Args().First(), sig, c.Bool("all"))
	},
}
