package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/bundle"
	agentdruntime "github.com/agentd/agentd/runtime"
	"github.com/agentd/agentd/supervisor/api"
)

// RunOnce runs one command in a new container sandbox without a daemon and
// removes the sandbox, whatever happens: the command is the container's own
// process (materialize, run, remove: one container operation where a daemon
// sandbox needs three: create with a sleeping init, exec, remove). Its
// bundles live in stateDir/oneshot, apart from the daemon's sandboxes, and
// its container state in runDir/oneshot; a run that dies before removing
// them is removed by the next (sweepOneShots). Stdin nil reads /dev/null. The
// spec's timeout, or ctx ending, kills the container: a timeout answers
// TimedOut. A missing or non-executable command is ErrCommandNotFound or
// ErrNotExecutable. The signals caught on sigs (agentdruntime.CatchSignals,
// or NoSignals for a caller that handles its own) go to the command; with
// sigs nil, RunOnce catches every signal while the command runs.
func RunOnce(ctx context.Context, stateDir, runDir string, spec *bundle.Spec, cfg *ExecConfig, sigs *agentdruntime.Signals) (_ ExitStatus, retErr error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return ExitStatus{}, fmt.Errorf("%w: %w", api.ErrInvalidArgument, err)
	}
	if spec.Backend != bundle.BackendContainer {
		return ExitStatus{}, fmt.Errorf("%w: RunOnce runs container sandboxes, not %s", api.ErrInvalidArgument, spec.Backend)
	}
	rt, err := agentdruntime.New(filepath.Join(runDir, "oneshot"), agentdruntime.Options{})
	if err != nil {
		return ExitStatus{}, err
	}
	state := filepath.Join(stateDir, "oneshot")
	locks := filepath.Join(state, "locks")
	if err := os.MkdirAll(locks, 0o700); err != nil {
		return ExitStatus{}, err
	}
	sweepOneShots(rt, state, locks)
	// The run's lock says it is alive; it goes after the sandbox.
	id := "run-" + newID()
	unlock, err := lockFile(filepath.Join(locks, id))
	if err != nil {
		return ExitStatus{}, err
	}
	defer func() {
		_ = os.Remove(filepath.Join(locks, id))
		unlock()
	}()
	bd, err := bundle.MaterializeTransient(state, id, spec, cfg.Args)
	if err != nil {
		return ExitStatus{}, err
	}
	defer func() {
		_ = rt.Delete(id, true)
		retErr = errors.Join(retErr, bundle.Remove(state, id))
	}()
	stdin := cfg.Stdin
	if stdin == nil {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return ExitStatus{}, err
		}
		defer null.Close()
		stdin = null
	}
	if t := spec.Limits.TimeoutMs; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(t)*time.Millisecond)
		defer cancel()
	}
	stop := context.AfterFunc(ctx, func() { _ = rt.Kill(id, unix.SIGKILL, true) })
	defer stop()
	code, err := rt.Run(ctx, id, agentdruntime.CreateOptions{Bundle: bd.Dir, Signals: sigs,
		Stdio: agentdruntime.Stdio{Stdin: stdin, Stdout: cfg.Stdout, Stderr: cfg.Stderr}})
	if err != nil {
		return ExitStatus{}, classifyExecErr(err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ExitStatus{Code: api.ExitTimeout, TimedOut: true}, nil
	}
	if code > 128 {
		return ExitStatus{Signal: code - 128}, nil
	}
	return ExitStatus{Code: code}, nil
}

// sweepOneShots removes what one-shot runs that died (kill -9 of the CLI,
// a daemon that crashed during a forwarded run) left under state: their
// containers and their bundles, whose tmpfs would hold memory until a
// reboot. A run is dead when its lock in locks is free; a bundle without a
// lock is older than the locks.
func sweepOneShots(rt *agentdruntime.Runtime, state, locks string) {
	names := map[string]bool{}
	for _, dir := range []string{locks, filepath.Join(state, "sandboxes")} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			names[e.Name()] = true
		}
	}
	for name := range names {
		if bundle.ValidateID(name) != nil {
			continue
		}
		unlock, err := lockFile(filepath.Join(locks, name))
		if err != nil {
			continue // alive
		}
		_ = rt.Delete(name, true)
		if bundle.Remove(state, name) == nil {
			_ = os.Remove(filepath.Join(locks, name))
		}
		unlock()
	}
}
