package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/client"
)

// sandboxCommand is the sandbox CLI: a client of the supervisor daemon,
// which it starts on demand.
var sandboxCommand = &cli.Command{
	Name:  "sandbox",
	Usage: "run commands in sandboxes (for agents and people)",
	Description: `Exit codes: the command's own, 125 when agentd failed, 126 not executable,
127 not found, 124 on timeout, 128+N when killed by signal N.
The daemon is started on demand when no socket answers.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "socket", Value: client.DefaultSocket, EnvVars: []string{"AGENTD_SOCKET"},
			Usage: "the daemon's API socket"},
		&cli.StringFlag{Name: "state-dir", Value: defaultStateDir, EnvVars: []string{"AGENTD_STATE_DIR"},
			Usage: "state dir of a daemon started on demand"},
		&cli.BoolFlag{Name: "no-autostart", EnvVars: []string{"AGENTD_NO_AUTOSTART"},
			Usage: "fail instead of starting a daemon when none answers"},
	},
	Subcommands: []*cli.Command{
		sandboxCreateCommand, sandboxExecCommand, sandboxRunCommand, sandboxLsCommand,
		sandboxInspectCommand, sandboxStatsCommand, sandboxPauseCommand, sandboxResumeCommand,
		sandboxCpCommand, sandboxRmCommand, sandboxProbeCommand, sandboxEventsCommand,
		sandboxSnapshotCommand, sandboxSnapshotsCommand, sandboxRestoreCommand, sandboxForkCommand,
	},
}

// defaultStateDir is where the daemon keeps sandboxes.
const defaultStateDir = "/var/lib/agentd"

// sandboxUsageError makes a bad flag exit 125 like every other failure of
// agentd. Set it as OnUsageError of each sandbox subcommand.
func sandboxUsageError(c *cli.Context, err error, _ bool) error {
	return agentdFailed(fmt.Errorf("%s: %w (see agentd sandbox %s --help)", c.Command.Name, err, c.Command.Name))
}

// sandboxClient returns a client of the daemon, starting the daemon if no
// socket answers (unless --no-autostart).
func sandboxClient(c *cli.Context) (*client.Client, error) {
	sock := c.String("socket")
	cl := client.New(sock)
	if c.Bool("no-autostart") {
		return cl, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the agentd binary to start the daemon: %w", err)
	}
	stateDir, err := filepath.Abs(c.String("state-dir"))
	if err != nil {
		return nil, err
	}
	sock, err = filepath.Abs(sock)
	if err != nil {
		return nil, err
	}
	_, err = cl.EnsureDaemon(c.Context, client.StartOptions{
		Path:    exe,
		Args:    []string{"daemon", "--socket", sock, "--state-dir", stateDir},
		LogFile: filepath.Join(filepath.Dir(sock), "agentd.log"),
	})
	if err != nil {
		return nil, err
	}
	return cl, nil
}

// sandboxArgs checks the number of positional arguments.
func sandboxArgs(c *cli.Context, min, max int) error {
	if n := c.NArg(); n < min || (max >= 0 && n > max) {
		return fmt.Errorf("%s: wrong number of arguments (%d); usage: agentd sandbox %s %s",
			c.Command.Name, n, c.Command.Name, c.Command.ArgsUsage)
	}
	return nil
}

// writeJSON prints v as indented JSON on the app's stdout.
func writeJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON for programs instead of a table"}

// clientAction is sandboxAction for a subcommand that takes between min and
// max arguments (max < 0: no limit) and talks to the daemon: fn gets the
// client, the daemon started on demand.
func clientAction(min, max int, fn func(c *cli.Context, cl *client.Client) error) cli.ActionFunc {
	return sandboxAction(func(c *cli.Context) error {
		if err := sandboxArgs(c, min, max); err != nil {
			return err
		}
		cl, err := sandboxClient(c)
		if err != nil {
			return err
		}
		return fn(c, cl)
	})
}

// sandboxAction wraps a subcommand's work so that every error exits 125
// unless it carries its own code.
func sandboxAction(fn func(c *cli.Context) error) cli.ActionFunc {
	return func(c *cli.Context) error { return agentdFailed(fn(c)) }
}
