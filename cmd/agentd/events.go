package main

import (
	"context"
	"os/signal"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "print a container's resource usage and OOM events as JSON lines",
	ArgsUsage: "ID",
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "interval", Value: 5e9, Usage: "time between stats events"},
		&cli.BoolFlag{Name: "stats", Usage: "print one stats event and exit"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
		defer stop()
		return rt.Events(ctx, c.Args().First(), c.Duration("interval"), c.Bool("stats"), c.App.Writer)
	},
}
