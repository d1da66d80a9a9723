package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	agentdruntime "github.com/agentd/agentd/runtime"
)

var listCommand = &cli.Command{
	Name:    "list",
	Aliases: []string{"ls"},
	Usage:   "list the containers under --root",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the ids"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		states, err := rt.List()
		if err != nil {
			return err
		}
		switch {
		case c.Bool("quiet"):
			for _, s := range states {
				fmt.Fprintln(c.App.Writer, s.ID)
			}
			return nil
		case c.String("format") == "json":
			if states == nil {
				states = []*agentdruntime.State{}
			}
			return writeJSON(c, states)
		case c.String("format") == "table":
			w := tabwriter.NewWriter(c.App.Writer, 12, 1, 3, ' ', 0)
			fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano))
			}
			return w.Flush()
		default:
			return fmt.Errorf("--format %q: use table or json", c.String("format"))
		}
	},
}
