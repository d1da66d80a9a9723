package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/client"
)

var sandboxStatsCommand = &cli.Command{
	Name:         "stats",
	Usage:        "show a sandbox's resource usage, read from its cgroup",
	ArgsUsage:    "ID",
	OnUsageError: sandboxUsageError,
	Flags:        []cli.Flag{jsonFlag},
	Action: clientAction(1, 1, func(c *cli.Context, cl *client.Client) error {
		st, err := cl.Stats(c.Context, c.Args().First())
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return writeJSON(c, st)
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tMEMORY\tMEMORY LIMIT\tCPU TIME\tPIDS\tPIDS LIMIT")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", st.ID, bytesHuman(st.MemoryBytes),
			bytesHuman(st.MemoryLimitBytes), time.Duration(st.CPUTimeNs).Round(time.Millisecond),
			st.Pids, limitHuman(st.PidsLimit))
		return tw.Flush()
	}),
}

// bytesHuman prints a byte count in binary units; 0 is "-".
func bytesHuman(n int64) string {
	if n <= 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func limitHuman(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprint(n)
}
