package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

var sandboxPauseCommand = &cli.Command{
	Name:         "pause",
	Usage:        "freeze every process of a sandbox",
	ArgsUsage:    "ID",
	OnUsageError: sandboxUsageError,
	Action: sandboxAction(func(c *cli.Context) error {
		if err := sandboxArgs(c, 1, 1); err != nil {
			return err
		}
		cl, err := sandboxClient(c)
		if err != nil {
			return err
		}
		info, err := cl.Pause(c.Context, c.Args().First())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(c.App.Writer, info.ID)
		return err
	}),
}
