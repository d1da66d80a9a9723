package main

import (
	"github.com/urfave/cli/v2"

	agentdruntime "github.com/agentd/agentd/runtime"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container, and wait for it",
	ArgsUsage: "ID",
	Description: `Runs the bundle's process in the foreground, forwarding signals to it, then
deletes the container and exits with the process's exit code (128+N if a
signal N killed it). With --detach it returns once the process has started.`,
	Flags: append([]cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the process has started"},
	}, createFlags...),
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		opts := createOptions(c)
		if !opts.Detach {
			// Never released: agentd exits once the process has (see
			// CatchSignals).
			opts.Signals = agentdruntime.CatchSignals()
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		code, err := rt.Run(c.Context, c.Args().First(), opts)
		if err != nil {
			return err
		}
		if code != 0 {
			return &exitError{code: code}
		}
		return nil
	},
}
