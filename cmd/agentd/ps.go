package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "list the processes of a container",
	ArgsUsage: "ID [PS-OPTIONS...]",
	Description: `With --format table (the default) runs ps(1) with PS-OPTIONS (default -ef)
and keeps the container's lines; --format json prints the pids as a JSON array.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, -1); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		pids, err := rt.Ps(c.Args().First())
		if err != nil {
			return err
		}
		switch c.String("format") {
		case "json":
			if pids == nil {
				pids = []int{}
			}
			return writeJSON(c, pids)
		case "table":
			return psTable(c, pids, c.Args().Slice()[1:])
		default:
			return fmt.Errorf("--format %q: use table or json", c.String("format"))
		}
	},
}

// psTable prints ps(1)'s header and the lines of the given pids.
func psTable(c *cli.Context, pids []int, psArgs []string) error {
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("running ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps %s prints no PID column", strings.Join(psArgs, " "))
	}
	want := map[string]bool{}
	for _, p := range pids {
		want[strconv.Itoa(p)] = true
	}
	var b bytes.Buffer
	b.WriteString(lines[0] + "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > col && want[f[col]] {
			b.WriteString(l + "\n")
		}
	}
	_, err = c.App.Writer.Write(b.Bytes())
	return err
}
