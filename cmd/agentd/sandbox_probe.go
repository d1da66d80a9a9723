package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/client"
)

var sandboxProbeCommand = &cli.Command{
	Name:         "probe",
	Usage:        "show what this host enforces, per backend, as measured",
	ArgsUsage:    " ",
	OnUsageError: sandboxUsageError,
	Flags:        []cli.Flag{jsonFlag},
	Action: clientAction(0, 0, func(c *cli.Context, cl *client.Client) error {
		caps, err := cl.Probe(c.Context)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return writeJSON(c, caps)
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "BACKEND\tFEATURE\tENFORCED\tDETAIL")
		for _, b := range caps {
			status := "available"
			if !b.Available {
				status = "unavailable: " + b.Reason
			}
			fmt.Fprintf(tw, "%s\t-\t%s\t\n", b.Backend, status)
			for _, f := range b.Features {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Backend, f.Name, yesNo(f.Enforced), f.Detail)
			}
		}
		return tw.Flush()
	}),
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
