package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/api"
	"github.com/agentd/agentd/supervisor/client"

	"github.com/agentd/agentd/bundle"
)

var sandboxSnapshotCommand = &cli.Command{
	Name:      "snapshot",
	Usage:     "save a container sandbox's files as snapshot NAME (the sandbox is frozen meanwhile)",
	ArgsUsage: "ID NAME",
	Description: `Copies the sandbox's writable layer (owners, modes, times, xattrs, hard links,
deleted-file markers, sparse files) to NAME. The copy is written under a
temporary name and renamed when complete, so a crash or a full disk never
leaves a half snapshot. "agentd sandbox snapshot rm ID NAME" deletes one.`,
	OnUsageError: sandboxUsageError,
	Flags:        []cli.Flag{jsonFlag},
	Subcommands:  []*cli.Command{sandboxSnapshotRmCommand},
	Action: clientAction(2, 2, func(c *cli.Context, cl *client.Client) error {
		p := newCopyProgress(c)
		res, err := cl.Snapshot(c.Context, c.Args().Get(0), c.Args().Get(1), p.report())
		p.done()
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return writeJSON(c, res)
		}
		s := res.Snapshot
		_, err = fmt.Fprintf(c.App.Writer, "%s: %d files, %s in %s\n", s.Name, s.Files, size(s.Size), s.Copy.Duration.Round(time.Millisecond))
		return err
	}),
}

var sandboxSnapshotRmCommand = &cli.Command{
	Name:         "rm",
	Usage:        "delete snapshot NAME of a sandbox",
	ArgsUsage:    "ID NAME",
	OnUsageError: sandboxUsageError,
	Action: clientAction(2, 2, func(c *cli.Context, cl *client.Client) error {
		return cl.RemoveSnapshot(c.Context, c.Args().Get(0), c.Args().Get(1))
	}),
}

var sandboxSnapshotsCommand = &cli.Command{
	Name:         "snapshots",
	Usage:        "list a sandbox's snapshots (name, time, size)",
	ArgsUsage:    "ID",
	OnUsageError: sandboxUsageError,
	Flags:        []cli.Flag{jsonFlag},
	Action: clientAction(1, 1, func(c *cli.Context, cl *client.Client) error {
		list, err := cl.Snapshots(c.Context, c.Args().First())
		if err != nil {
			return err
		}
		if c.Bool("json") {
			if list == nil {
				list = []bundle.SnapshotInfo{}
			}
			return writeJSON(c, list)
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED\tFILES\tSIZE")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", s.Name, s.Created.Local().Format(time.DateTime), s.Files, size(s.Size))
		}
		return tw.Flush()
	}),
}

var sandboxRestoreCommand = &cli.Command{
	Name:      "restore",
	Usage:     "put a container sandbox's files back as they were at snapshot NAME",
	ArgsUsage: "ID NAME",
	Description: `Kills the sandbox's processes and running commands, replaces its writable
layer with a copy of the snapshot and starts it again: new files are gone,
deleted and changed files are back as they were. If the copy fails (a full
disk) the sandbox restarts on its old files.`,
	OnUsageError: sandboxUsageError,
	Flags:        []cli.Flag{jsonFlag},
	Action: clientAction(2, 2, func(c *cli.Context, cl *client.Client) error {
		p := newCopyProgress(c)
		res, err := cl.Restore(c.Context, c.Args().Get(0), c.Args().Get(1), p.report())
		p.done()
		if err != nil {
			return err
		}
		return printCopyResult(c, res)
	}),
}

var sandboxForkCommand = &cli.Command{
	Name:      "fork",
	Usage:     "start a new sandbox from a sandbox's snapshot, or from its current files",
	ArgsUsage: "ID[:SNAPSHOT]",
	Description: `The new sandbox has the same spec; its files start as SNAPSHOT, or without
one as the source's files now (the source is frozen during the copy). Prints
the new sandbox's id. The two then change independently.`,
	OnUsageError: sandboxUsageError,
	Flags:        []cli.Flag{jsonFlag, &cli.StringFlag{Name: "name", Usage: "name of the new sandbox"}},
	Action: clientAction(1, 1, func(c *cli.Context, cl *client.Client) error {
		ref, snap, _ := strings.Cut(c.Args().First(), ":")
		p := newCopyProgress(c)
		res, err := cl.Fork(c.Context, ref, api.ForkRequest{Snapshot: snap, Name: c.String("name")}, p.report())
		p.done()
		if err != nil {
			return err
		}
		return printCopyResult(c, res)
	}),
}

func printCopyResult(c *cli.Context, res *api.CopyResult) error {
	if c.Bool("json") {
		return writeJSON(c, res)
	}
	_, err := fmt.Fprintln(c.App.Writer, res.Sandbox.ID)
	return err
}

// copyProgress draws a one-line progress report on stderr when stderr is a
// terminal and the output is not --json.
type copyProgress struct {
	on    bool
	drawn bool
}

func newCopyProgress(c *cli.Context) *copyProgress {
	_, tty := isTerminal(os.Stderr)
	return &copyProgress{on: !c.Bool("json") && tty}
}

func (p *copyProgress) report() func(bundle.CopyStats) {
	if !p.on {
		return nil
	}
	return func(st bundle.CopyStats) {
		p.drawn = true
		fmt.Fprintf(os.Stderr, "\rcopying: %d files, %s   ", st.Files, size(st.Bytes))
	}
}

func (p *copyProgress) done() {
	if p.drawn {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
}

// size prints a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
