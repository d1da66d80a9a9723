package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/client"
)

var sandboxInspectCommand = &cli.Command{
	Name:         "inspect",
	Usage:        "show a sandbox: state, spec, running and interrupted commands",
	ArgsUsage:    "ID",
	OnUsageError: sandboxUsageError,
	Flags:        []cli.Flag{jsonFlag},
	Action: clientAction(1, 1, func(c *cli.Context, cl *client.Client) error {
		info, err := cl.Inspect(c.Context, c.Args().First())
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return writeJSON(c, info)
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\t%s\nName\t%s\nBackend\t%s\nState\t%s\n", info.ID, dash(info.Name), info.Backend, info.State)
		if info.Error != "" {
			fmt.Fprintf(tw, "Error\t%s\n", info.Error)
		}
		fmt.Fprintf(tw, "Created\t%s\nUpdated\t%s\n", info.CreatedAt.Local().Format("2006-01-02 15:04:05"),
			info.UpdatedAt.Local().Format("2006-01-02 15:04:05"))
		for _, e := range info.Execs {
			fmt.Fprintf(tw, "Running\t%s pid %d: %s\n", e.ID, e.Pid, strings.Join(e.Args, " "))
		}
		for _, e := range info.Interrupted {
			fmt.Fprintf(tw, "Interrupted\t%s: %s (the daemon restarted)\n", e.ID, strings.Join(e.Args, " "))
		}
		if info.Spec != nil {
			spec, _ := json.Marshal(info.Spec)
			fmt.Fprintf(tw, "Spec\t%s\n", spec)
		}
		return tw.Flush()
	}),
}
