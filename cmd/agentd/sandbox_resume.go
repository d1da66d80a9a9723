package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

var sandboxResumeCommand = &cli.Command{
	Name:         "resume",
	Usage:        "thaw a paused sandbox",
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
		info, err := cl.Resume(c.Context, c.Args().First())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(c.App.Writer, info.ID)
		return err
	}),
}
