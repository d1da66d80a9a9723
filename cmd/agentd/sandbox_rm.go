package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/client"
)

var sandboxRmCommand = &cli.Command{
	Name:         "rm",
	Aliases:      []string{"remove"},
	Usage:        "destroy sandboxes (with -f also while commands run in them)",
	ArgsUsage:    "ID [ID...]",
	OnUsageError: sandboxUsageError,
	Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"},
		Usage: "kill running commands first"}},
	Action: clientAction(1, -1, func(c *cli.Context, cl *client.Client) error {
		// Remove every one that can be removed; report the others.
		var errs []error
		for _, ref := range c.Args().Slice() {
			if err := cl.Remove(c.Context, ref, c.Bool("force")); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ref, err))
				continue
			}
			fmt.Fprintln(c.App.Writer, ref)
		}
		return errors.Join(errs...)
	}),
}
