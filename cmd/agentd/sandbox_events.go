package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/api"
	"github.com/agentd/agentd/supervisor/client"
)

var sandboxEventsCommand = &cli.Command{
	Name:         "events",
	Usage:        "follow every sandbox state change and exec start and exit until interrupted",
	ArgsUsage:    " ",
	OnUsageError: sandboxUsageError,
	Flags:        []cli.Flag{jsonFlag},
	Action: clientAction(0, 0, func(c *cli.Context, cl *client.Client) error {
		ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		enc := json.NewEncoder(c.App.Writer)
		err := cl.Events(ctx, func(e api.Event) error {
			if c.Bool("json") {
				return enc.Encode(e)
			}
			_, err := fmt.Fprintln(c.App.Writer, formatEvent(e))
			return err
		})
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}),
}

// formatEvent is one human line per event.
func formatEvent(e api.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", e.Time.Local().Format("15:04:05.000"), e.Sandbox, e.Type)
	if e.From != "" || e.To != "" {
		fmt.Fprintf(&b, " %s -> %s", dash(string(e.From)), dash(string(e.To)))
	}
	if e.Exec != nil {
		fmt.Fprintf(&b, " exec %s %q", e.Exec.ID, strings.Join(e.Exec.Args, " "))
	}
	if e.Exit != nil {
		fmt.Fprintf(&b, " code %d", e.Exit.Code)
		if e.Exit.TimedOut {
			b.WriteString(" (timed out)")
		}
	}
	if e.Error != "" {
		fmt.Fprintf(&b, " error: %s", e.Error)
	}
	return b.String()
}
