//go:build linux

package native

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/agentd/agentd/bundle"
	"golang.org/x/sys/unix"
)

// Execution is a command started in a sandbox by [Sandbox.Start]. Its
// output is copied to the Process's writers while it runs.
type Execution struct {
	id       string
	cg       cgroup
	sandbox  cgroup
	pid      int  // the command's, a child of this process
	reaped   bool // the command was waited for
	stdio    *stdio
	started  time.Time
	report   Report
	oomStart uint64

	timer    *time.Timer
	stopCtx  func() bool
	timedOut atomic.Bool
	canceled atomic.Pointer[error] // the context's error, when it ended the command

	waitOnce sync.Once
	result   *Result
	err      error
}

// ID is the exec's id (its cgroup's name).
func (e *Execution) ID() string { return e.id }

// Pid is the command's process id.
func (e *Execution) Pid() int { return e.pid }

// Report is what was enforced on the command.
func (e *Execution) Report() Report { return e.report }

// Start runs p in the sandbox and returns once the command is executing,
// with every restriction in force. ctx bounds the whole execution, like
// exec.CommandContext: when it is done, the command and everything it
// started are killed, and [Execution.Wait] returns the context's error.
func (s *Sandbox) Start(ctx context.Context, p Process) (_ *Execution, retErr error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	pol, err := buildPolicy(s.st, s.paths(), p)
	if err != nil {
		return nil, err
	}
	id := p.ID
	if id == "" {
		id = "exec-" + randomHex(6)
	}
	if err := checkID("exec", id); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(s.cg.procDir(), id)); err == nil {
		return nil, fmt.Errorf("%w: exec %s is running in sandbox %s", ErrExist, id, s.id)
	}
	if paused, _ := s.cg.isFrozen(); paused {
		return nil, fmt.Errorf("starting %s in sandbox %s: %w", p.Args[0], s.id, ErrPaused)
	}
	e := &Execution{id: id, sandbox: s.cg, cg: s.cg, started: time.Now()}
	e.oomStart, _ = s.cg.oomKills()
	if !s.oneShot {
		if e.cg, err = s.cg.child(id); err != nil {
			return nil, err
		}
	}
	defer func() {
		if retErr != nil {
			e.abort()
		}
	}()
	if f, ok := p.Stdin.(*os.File); p.Tty && (!ok || f == nil) {
		return nil, fmt.Errorf("%w: a tty exec needs a terminal (*os.File) as stdin", ErrInvalidSpec)
	}
	if e.stdio, err = newStdio(p); err != nil {
		return nil, err
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = s.st.Timeout
	}
	rep, err := e.start(ctx, pol, p.Tty, timeout)
	if err != nil {
		return nil, err
	}
	e.report = s.mergeReport(rep, pol)
	return e, nil
}

// watch kills the exec's whole process tree when timeout (if not zero)
// passes or ctx is done.
func (e *Execution) watch(ctx context.Context, timeout time.Duration) {
	if timeout > 0 {
		e.timer = time.AfterFunc(timeout, func() {
			e.timedOut.Store(true)
			_ = killAll(e.cg)
		})
	}
	e.stopCtx = context.AfterFunc(ctx, func() {
		err := context.Cause(ctx)
		e.canceled.Store(&err)
		_ = killAll(e.cg)
	})
}

// mergeReport adds what the sandbox enforces to the command's report.
func (s *Sandbox) mergeReport(rep Report, pol *policy) Report {
	rep.NetNamespace = pol.Seccomp.DenyInet
	rep.Cgroup = s.cg.name()
	rep.Limits = s.report.Limits
	for _, m := range s.report.Missing {
		if !slices.Contains(rep.Missing, m) {
			rep.Missing = append(rep.Missing, m)
		}
	}
	return rep
}

// abort undoes a failed Start.
func (e *Execution) abort() {
	e.stopTimers()
	_ = killAll(e.cg)
	if e.pid != 0 && !e.reaped {
		_, _ = e.reap()
	}
	if e.stdio != nil {
		e.stdio.finish()
	}
	_ = removeCgroup(e.cg)
}

func (e *Execution) stopTimers() {
	if e.timer != nil {
		e.timer.Stop()
	}
	if e.stopCtx != nil {
		e.stopCtx()
	}
}

// Wait waits for the command to exit, kills whatever it left running in its
// cgroup, waits for its output to be copied and removes its cgroup. When the
// Start context ended the command, Wait returns the Result and an error
// wrapping the context's error.
func (e *Execution) Wait() (*Result, error) {
	e.waitOnce.Do(func() { e.result, e.err = e.wait() })
	return e.result, e.err
}

func (e *Execution) wait() (*Result, error) {
	ws, waitErr := e.reap()
	duration := time.Since(e.started)
	e.stopTimers()
	killErr := killAll(e.cg)
	if killErr != nil {
		// Something survived (a paused sandbox): stop copying its output.
		e.stdio.closeParentEnds()
	}
	e.stdio.finish()
	if waitErr != nil {
		return nil, fmt.Errorf("waiting for the command: %w", waitErr)
	}
	res := &Result{Duration: duration, TimedOut: e.timedOut.Load(), Enforced: e.report}
	if ws.Signaled() {
		res.Signal = ws.Signal()
		res.ExitCode = 128 + int(res.Signal)
	} else {
		res.ExitCode = ws.ExitStatus()
	}
	res.OOMKilled = res.Signal == syscall.SIGKILL && e.oomKilled()
	var ctxErr error
	if p := e.canceled.Load(); p != nil && res.Signal == syscall.SIGKILL {
		ctxErr = fmt.Errorf("command %s: %w", e.id, *p)
	}
	if err := errors.Join(ctxErr, killErr, removeCgroup(e.cg)); err != nil {
		return res, err
	}
	return res, nil
}

// reap waits for the command to exit and reaps it. The pid stays the
// command's until then: nothing else reaps it (the daemon's reaper leaves
// children alone for a grace period).
func (e *Execution) reap() (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(e.pid, &ws, 0, nil)
		if err != syscall.EINTR {
			e.reaped = err == nil
			return ws, err
		}
	}
}

// oomKilled reports whether the OOM killer killed a process of the exec.
// v1 counts a kill in the cgroup of the victim only (the exec's); v2 also
// counts it in every ancestor (the sandbox's), and the exec's own counter
// exists only when the sandbox delegates the memory controller.
func (e *Execution) oomKilled() bool {
	if n, err := e.cg.oomKills(); err == nil && n > 0 {
		return true
	}
	n, err := e.sandbox.oomKills()
	return err == nil && n > e.oomStart
}

// Kill ends the command and every process it started.
func (e *Execution) Kill() error { return killAll(e.cg) }

// Signal sends sig to the command's process group (the command is a
// session and group leader).
func (e *Execution) Signal(sig syscall.Signal) error {
	return unix.Kill(-e.pid, sig)
}

// Exec runs p in the sandbox and waits for it: [Sandbox.Start] then
// [Execution.Wait].
func (s *Sandbox) Exec(ctx context.Context, p Process) (*Result, error) {
	e, err := s.Start(ctx, p)
	if err != nil {
		return nil, err
	}
	return e.Wait()
}

// Run runs one command in a sandbox made for it and destroyed after it:
// the ephemeral form of [Create], [Sandbox.Exec] and [Sandbox.Destroy]. The
// sandbox's scratch dir (HOME, TMPDIR) lives in a new directory under
// os.TempDir().
func Run(ctx context.Context, spec *bundle.Spec, p Process) (*Result, error) {
	return RunIn(ctx, os.TempDir(), spec, p)
}

// RunIn is [Run] with the scratch dir's parent given: the daemon runs
// one-shots for CLI callers under the caller's TMPDIR, not its own.
func RunIn(ctx context.Context, tempDir string, spec *bundle.Spec, p Process) (_ *Result, retErr error) {
	tmp, err := os.MkdirTemp(tempDir, "agentd-native-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// The sandbox user must be able to pass through to its scratch dir.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, err
	}
	sb, err := create("run-"+randomHex(6), spec, tmp+"/sandbox", true)
	if err != nil {
		return nil, err
	}
	defer func() { retErr = errors.Join(retErr, sb.Destroy()) }()
	return sb.Exec(ctx, p)
}
