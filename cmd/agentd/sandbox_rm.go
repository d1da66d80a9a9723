package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
)

var sandboxRmCommand = &cli.Command{
	Name:         "rm",
	Aliases:      []string{"remove"},
	Usage:        "destroy sandboxes (with -f also while commands run in them)",
	ArgsUsage:    "ID [ID...]",
	OnUsageError: sandboxUsageError,
	Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"},
		Usage: "kill running commands first"}},
	Action: sandboxAction(func(c *cli.Context) error {
		if err := sandboxArgs(c, 1, -1); err != nil {
			return err
		}
		cl, err := sandboxClient(c)
		if err != nil {
			return err
		}
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
