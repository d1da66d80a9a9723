package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/native"
	agentdruntime "github.com/agentd/agentd/runtime"
	"github.com/agentd/agentd/supervisor"
	"github.com/agentd/agentd/supervisor/api"
)

var sandboxRunCommand = &cli.Command{
	Name: "run",
	Usage: "create a sandbox, run one command in it, destroy it; exits with the command's code " +
		"(needs no daemon, except with --tty: the daemon gives the command a terminal of its own)",
	ArgsUsage:              "[create flags] -- CMD [ARG...]",
	UseShortOptionHandling: true,
	OnUsageError:           sandboxUsageError,
	Flags:                  append(sandboxSpecFlags(), ioFlags...),
	Action: sandboxAction(func(c *cli.Context) error {
		if err := sandboxArgs(c, 1, -1); err != nil {
			return err
		}
		if fc := forwardCaptureOf(c.Context); fc != nil && c.IsSet("spec") {
			// The spec file is the CLI's to read: a name relative to its
			// working directory, /dev/stdin or a pipe of its shell mean
			// other files in the daemon, or none. The CLI runs it.
			return nil
		}
		req, err := createRequestFromFlags(c)
		if err != nil {
			return err
		}
		o := sandboxExecOptions{interactive: c.Bool("interactive")}
		o.req = api.ExecRequest{Args: dropDashDash(c.Args().Slice()), Tty: c.Bool("tty")}
		if len(o.req.Args) == 0 {
			return fmt.Errorf("run: no command given; usage: agentd sandbox run [flags] -- CMD [ARG...]")
		}
		if fc := forwardCaptureOf(c.Context); fc != nil {
			// The daemon parsing a forwarded run: take what to run, run nothing.
			fc.capture(&req.Spec, o, c.String("state-dir"), filepath.Dir(c.String("socket")))
			return nil
		}
		ctx, sig := signalContext(c.Context)
		c.Context = ctx
		switch {
		case o.req.Tty:
			err = runInDaemon(c, req, o)
		case req.Spec.WithDefaults().Backend == bundle.BackendNative:
			err = runNative(ctx, &req.Spec, o, cmdIO{c.App.Reader, c.App.Writer, c.App.ErrWriter}, os.TempDir())
		default:
			// Caught until the CLI exits: releasing them would cost as
			// much as catching them (see agentdruntime.CatchSignals).
			err = runContainerOnce(ctx, &req.Spec, o, cmdIO{c.App.Reader, c.App.Writer, c.App.ErrWriter},
				c.String("state-dir"), filepath.Dir(c.String("socket")), agentdruntime.CatchSignals())
		}
		if s := sig(); s != 0 {
			return &exitError{code: 128 + int(s)}
		}
		return err
	}),
}

// runInDaemon creates the sandbox through the daemon, runs the command and
// always removes the sandbox, also when interrupted.
func runInDaemon(c *cli.Context, req *api.CreateRequest, o sandboxExecOptions) (retErr error) {
	cl, err := sandboxClient(c)
	if err != nil {
		return err
	}
	info, err := cl.Create(c.Context, req)
	if err != nil {
		return err
	}
	defer func() {
		if err := cl.Remove(context.WithoutCancel(c.Context), info.ID, true); err != nil {
			retErr = errors.Join(retErr, agentdFailed(fmt.Errorf("removing sandbox %s: %w", info.ID, err)))
		}
	}()
	return sandboxExec(c, cl, info.ID, o)
}

// runContainerOnce runs the command as the process of a new container and
// removes it, in this process: the CLI without a daemon (a terminal goes
// through the daemon, which relays it), or the daemon for a CLI that
// forwarded its run (forward.go). Its bundle goes under stateDir, its
// container state under runDir. sigs go to the command (nil: every signal
// the CLI gets; see supervisor.RunOnce).
func runContainerOnce(ctx context.Context, spec *bundle.Spec, o sandboxExecOptions, cio cmdIO, stateDir, runDir string, sigs *agentdruntime.Signals) error {
	cfg := &supervisor.ExecConfig{Args: o.req.Args, Stdout: cio.out, Stderr: cio.err}
	if o.interactive {
		cfg.Stdin = cio.in
	}
	st, err := supervisor.RunOnce(ctx, stateDir, runDir, spec, cfg, sigs)
	if err != nil {
		return startFailure(err, api.ErrCommandNotFound, api.ErrNotExecutable)
	}
	code := st.Code
	if st.Signal > 0 {
		code = 128 + st.Signal
	}
	return exitFromResult(cio.err, &api.ExitResult{Code: code, Signal: st.Signal, TimedOut: st.TimedOut})
}

// cmdIO is where a one-shot command's stdin, stdout and stderr are: the
// CLI's own, or, for a run the daemon does for a CLI, the CLI's files.
type cmdIO struct {
	in       io.Reader
	out, err io.Writer
}

// runNative runs the command with the native package directly, with its
// scratch dir under tempDir: no daemon, or in the daemon for a CLI that
// forwarded its run (forward.go).
func runNative(ctx context.Context, spec *bundle.Spec, o sandboxExecOptions, cio cmdIO, tempDir string) error {
	p := native.Process{Args: o.req.Args, Stdout: cio.out, Stderr: cio.err}
	if o.interactive {
		p.Stdin = cio.in
	}
	res, err := native.RunIn(ctx, tempDir, spec, p)
	if err != nil {
		return startFailure(err, native.ErrCommandNotFound, native.ErrNotExecutable)
	}
	code := res.ExitCode
	if res.TimedOut {
		code = api.ExitTimeout
	}
	return exitFromResult(cio.err, &api.ExitResult{Code: code, TimedOut: res.TimedOut})
}

// signalContext returns a context cancelled by SIGINT, SIGTERM or SIGHUP,
// so that run can clean up, and a function telling which signal came.
func signalContext(parent context.Context) (context.Context, func() syscall.Signal) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	got := make(chan syscall.Signal, 1)
	go func() {
		select {
		case s := <-ch:
			got <- s.(syscall.Signal)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() syscall.Signal {
		signal.Stop(ch)
		defer cancel()
		select {
		case s := <-got:
			return s
		default:
			return 0
		}
	}
}

// startFailure gives a one-shot run's error the exit code a shell would:
// 127 when the command is not found (notFound), 126 when it cannot be
// executed (notExecutable); other errors keep agentd's own code.
func startFailure(err, notFound, notExecutable error) error {
	switch {
	case errors.Is(err, notFound):
		return &exitError{code: api.ExitNotFound, err: err}
	case errors.Is(err, notExecutable):
		return &exitError{code: api.ExitNotExecutable, err: err}
	}
	return err
}
