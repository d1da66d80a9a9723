package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor"
	"github.com/agentd/agentd/supervisor/client"
)

var daemonCommand = &cli.Command{
	Name:  "daemon",
	Usage: "run the sandbox supervisor: an HTTP/JSON API on a unix socket (docs/api.md)",
	Description: `The daemon owns persistent sandboxes under --state-dir. It is a child
subreaper and reaps every orphan of its sandboxes. Sandboxes survive a restart
of the daemon (even kill -9). The sandbox CLI starts it on demand.
It also listens on SOCKET.run (mode 0600), where "agentd sandbox run" (either
backend, no terminal, no --spec) hands its run over to skip its own start-up
(docs/api.md).`,
	ArgsUsage: " ",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "socket", Value: client.DefaultSocket, Usage: "the API's unix socket (mode 0600)"},
		&cli.StringFlag{Name: "state-dir", Value: defaultStateDir, Usage: "where sandboxes are kept"},
		&cli.StringFlag{Name: "run-dir", Usage: "runtime state (gone at reboot); default: the socket's directory"},
		&cli.UintSliceFlag{Name: "allow-uid", Usage: "also allow this `UID` to use the API (repeatable)"},
		&cli.UintSliceFlag{Name: "allow-gid", Usage: "also allow members of this `GID` (repeatable)"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() != 0 {
			return fmt.Errorf("daemon: unexpected arguments %v", c.Args().Slice())
		}
		o := daemonOptions{
			socket:   c.String("socket"),
			stateDir: c.String("state-dir"),
			runDir:   c.String("run-dir"),
			debug:    c.Bool("debug"),
		}
		for _, u := range c.UintSlice("allow-uid") {
			o.auth.UIDs = append(o.auth.UIDs, uint32(u))
		}
		for _, g := range c.UintSlice("allow-gid") {
			o.auth.GIDs = append(o.auth.GIDs, uint32(g))
		}
		ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return runDaemon(ctx, o)
	},
}

type daemonOptions struct {
	socket, stateDir, runDir string
	auth                     supervisor.PeerAuth
	debug                    bool
}

// runDaemon sets up the backends and serves until ctx ends.
func runDaemon(ctx context.Context, o daemonOptions) error {
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var err error
	if o.stateDir, err = filepath.Abs(o.stateDir); err != nil {
		return err
	}
	if o.runDir == "" {
		o.runDir = filepath.Dir(o.socket)
	}
	if o.runDir, err = filepath.Abs(o.runDir); err != nil {
		return err
	}
	backends, err := supervisor.DefaultBackends(o.stateDir, o.runDir, log)
	if err != nil {
		return err
	}
	api, err := filepath.Abs(o.socket)
	if err != nil {
		return err
	}
	return supervisor.RunDaemon(ctx, supervisor.DaemonConfig{
		StateDir: o.stateDir, Socket: o.socket, Auth: o.auth, Backends: backends, Log: log,
		Beside: func() func(context.Context) { return listenForwarded(api, log) },
	})
}
