package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/api"
	"github.com/agentd/agentd/supervisor/client"
)

var sandboxLsCommand = &cli.Command{
	Name:         "ls",
	Aliases:      []string{"list"},
	Usage:        "list sandboxes",
	ArgsUsage:    " ",
	OnUsageError: sandboxUsageError,
	Flags: []cli.Flag{jsonFlag,
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print ids only"}},
	Action: clientAction(0, 0, func(c *cli.Context, cl *client.Client) error {
		list, err := cl.List(c.Context)
		if err != nil {
			return err
		}
		switch {
		case c.Bool("json"):
			if list == nil {
				list = []api.SandboxInfo{}
			}
			return writeJSON(c, list)
		case c.Bool("quiet"):
			for _, s := range list {
				fmt.Fprintln(c.App.Writer, s.ID)
			}
			return nil
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tBACKEND\tSTATE\tEXECS\tCREATED")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, dash(s.Name), s.Backend, s.State,
				len(s.Execs), ago(s.CreatedAt))
		}
		return tw.Flush()
	}),
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ago prints how long ago t was, to the second.
func ago(t time.Time) string {
	return time.Since(t).Round(time.Second).String() + " ago"
}
