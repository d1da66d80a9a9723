package main

import (
	"github.com/urfave/cli/v2"

	agentdruntime "github.com/agentd/agentd/runtime"
)

var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "bundle directory (holds config.json); default: the current directory"},
	&cli.StringFlag{Name: "pid-file", Usage: "write the container init's pid to this file (atomically)"},
	&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master when process.terminal is true"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "use chroot instead of pivot_root (for a rootfs on ramfs)"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "keep the caller's session keyring instead of making a new one"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many extra file descriptors (from fd 3) to the container"},
}

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container; its process waits until `agentd start`",
	ArgsUsage: "ID",
	Description: `Sets up everything from the bundle's config.json (namespaces, cgroups, mounts,
hooks) except the user process, which waits for "agentd start ID". The
container's stdio is agentd's own.`,
	Flags: createFlags,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		return rt.Create(c.Context, c.Args().First(), createOptions(c))
	},
}

func createOptions(c *cli.Context) agentdruntime.CreateOptions {
	return agentdruntime.CreateOptions{
		Bundle:        c.String("bundle"),
		PidFile:       c.String("pid-file"),
		ConsoleSocket: c.String("console-socket"),
		NoPivot:       c.Bool("no-pivot"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
		Detach:        c.Bool("detach"),
		PreserveFDs:   c.Int("preserve-fds"),
	}
}
