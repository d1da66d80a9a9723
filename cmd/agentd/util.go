package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	agentdruntime "github.com/agentd/agentd/runtime"
)

// newRuntime builds the runtime from the global flags.
func newRuntime(c *cli.Context) (*agentdruntime.Runtime, error) {
	return agentdruntime.New(c.String("root"), agentdruntime.Options{
		SystemdCgroup: c.Bool("systemd-cgroup"),
		Rootless:      c.String("rootless"),
	})
}

// checkArgs checks the number of positional arguments.
func checkArgs(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		want := fmt.Sprintf("%d", min)
		switch {
		case max < 0:
			want = fmt.Sprintf("at least %d", min)
		case max != min:
			want = fmt.Sprintf("%d to %d", min, max)
		}
		return fmt.Errorf("%s: expects %s argument(s), got %d; usage: %s %s %s",
			c.Command.Name, want, n, c.App.Name, c.Command.Name, c.Command.ArgsUsage)
	}
	return nil
}
