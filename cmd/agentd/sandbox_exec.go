package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
	"github.com/agentd/agentd/supervisor/client"
)

var sandboxExecCommand = &cli.Command{
	Name:                   "exec",
	Usage:                  "run a command in a sandbox, streaming its output; exits with its code",
	ArgsUsage:              "ID -- CMD [ARG...]",
	UseShortOptionHandling: true,
	OnUsageError:           sandboxUsageError,
	Flags: append([]cli.Flag{
		&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working `DIR` of the command"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "environment `K=V` (repeatable)"},
		&cli.StringFlag{Name: "timeout", Usage: "kill the command and all it started after `DUR` (exit 124)"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as `UID[:GID]`"},
	}, ioFlags...),
	Action: sandboxAction(func(c *cli.Context) error {
		if err := sandboxArgs(c, 2, -1); err != nil {
			return err
		}
		args := dropDashDash(c.Args().Slice()[1:])
		if len(args) == 0 {
			return fmt.Errorf("exec: no command given; usage: agentd sandbox exec [flags] ID -- CMD [ARG...]")
		}
		o, err := execOptionsFromFlags(c, args)
		if err != nil {
			return err
		}
		cl, err := sandboxClient(c)
		if err != nil {
			return err
		}
		return sandboxExec(c, cl, c.Args().First(), o)
	}),
}

// dropDashDash removes the "--" that separates the command from agentd's
// own arguments when the flag parser left it in place (after a positional
// argument).
func dropDashDash(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}

// ioFlags are the stdin and terminal flags of exec and run.
var ioFlags = []cli.Flag{
	&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "pass stdin to the command"},
	&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the command a pseudo-terminal"},
}

// sandboxExecOptions is what exec needs besides the sandbox.
type sandboxExecOptions struct {
	req         api.ExecRequest
	interactive bool
}

func execOptionsFromFlags(c *cli.Context, args []string) (sandboxExecOptions, error) {
	o := sandboxExecOptions{interactive: c.Bool("interactive")}
	o.req.Args = args
	o.req.Workdir = c.String("workdir")
	o.req.Tty = c.Bool("tty")
	env, err := parseEnv(c.StringSlice("env"))
	if err != nil {
		return o, err
	}
	if len(env) > 0 {
		o.req.Env = env
	}
	if c.IsSet("timeout") {
		d, err := parseTimeout(c.String("timeout"))
		if err != nil {
			return o, err
		}
		o.req.TimeoutMs = d.Milliseconds()
		if o.req.TimeoutMs == 0 && d > 0 {
			o.req.TimeoutMs = 1
		}
	}
	if u := c.String("user"); u != "" {
		if o.req.User, err = parseUIDGID(u); err != nil {
			return o, err
		}
	}
	return o, nil
}

// parseUIDGID parses UID[:GID]; the gid defaults to the uid.
func parseUIDGID(v string) (*bundle.User, error) {
	us, gs, hasGID := strings.Cut(v, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("--user %q: use numeric UID[:GID]", v)
	}
	gid := uid
	if hasGID {
		if gid, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return nil, fmt.Errorf("--user %q: use numeric UID[:GID]", v)
		}
	}
	return &bundle.User{UID: uint32(uid), GID: uint32(gid)}, nil
}

// sandboxExec runs the command and turns its end into the CLI's exit code.
func sandboxExec(c *cli.Context, cl *client.Client, ref string, o sandboxExecOptions) error {
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	eio := client.ExecIO{Stdout: c.App.Writer, Stderr: c.App.ErrWriter}
	if o.interactive {
		eio.Stdin = c.App.Reader
	}
	if o.req.Tty {
		restore, resize, size := setupTerminal(ctx, c.App.Reader)
		defer restore()
		if size != nil {
			o.req.TtySize = size
			eio.Resize = resize
		}
	}
	res, err := cl.Exec(ctx, ref, &o.req, eio)
	if err != nil {
		return err
	}
	return exitFromResult(c.App.ErrWriter, res)
}

// exitFromResult maps an exec's result to the CLI's exit: nil for 0, else
// an exitError with the code; a reason worth telling goes to stderr.
func exitFromResult(stderr io.Writer, res *api.ExitResult) error {
	switch {
	case res.TimedOut:
		fmt.Fprintln(stderr, "agentd: the command timed out and was killed")
	case res.Error != "" && res.Code >= 125:
		fmt.Fprintln(stderr, "agentd:", res.Error)
	}
	if res.Code == 0 {
		return nil
	}
	return &exitError{code: res.Code}
}

// isTerminal reports whether r is a terminal.
func isTerminal(r any) (*os.File, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return nil, false
	}
	_, err := getTermios(f)
	return f, err == nil
}
