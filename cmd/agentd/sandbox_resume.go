package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/client"
)

var sandboxResumeCommand = &cli.Command{
	Name:         "resume",
	Usage:        "thaw a paused sandbox",
	ArgsUsage:    "ID",
	OnUsageError: sandboxUsageError,
	Action: clientAction(1, 1, func(c *cli.Context, cl *client.Client) error {
		info, err := cl.Resume(c.Context, c.Args().First())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(c.App.Writer, info.ID)
		return err
	}),
}
