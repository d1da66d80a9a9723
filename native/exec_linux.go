//go:build linux

package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd      *exec.Cmd
	stdio    *stdio
	statusR  *os.File
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

// Pid is the command's process id (the helper's, which became the command).
func (e *Execution) Pid() int { return e.cmd.Process.Pid }

// Report is what the helper enforced on the command.
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
	e := &Execution{id: id, sandbox: s.cg, started: time.Now()}
	e.oomStart, _ = s.cg.oomKills()
	if e.cg, err = s.cg.child(id); err != nil {
		return nil, err
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
	if err := e.startHelper(pol, p.Tty); err != nil {
		return nil, err
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = s.st.Timeout
	}
	e.watch(ctx, timeout)
	rep, err := e.readStatus(ctx)
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

// startHelper starts `/proc/self/exe native-exec` with an empty
// environment, in its own session (with stdin as its controlling terminal
// when tty is set, and in a new network namespace for network "none"),
// puts it in the exec's cgroup and only then sends it the policy: the
// helper waits for the policy, so it runs nothing outside the cgroup.
func (e *Execution) startHelper(pol *policy, tty bool) error {
	policyR, policyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer policyW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		policyR.Close()
		return err
	}
	e.statusR = statusR
	e.cmd = &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{"agentd", HelperArg},
		Env:         []string{}, // not nil: nil would mean "inherit"
		Stdin:       e.stdio.child[0],
		Stdout:      e.stdio.child[1],
		Stderr:      e.stdio.child[2],
		ExtraFiles:  []*os.File{policyR, statusW},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if pol.Seccomp.DenyInet { // network "none"
		e.cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNET
	}
	if tty {
		e.cmd.SysProcAttr.Setctty, e.cmd.SysProcAttr.Ctty = true, 0 // the child's fd 0
	}
	err = e.cmd.Start()
	policyR.Close()
	statusW.Close()
	e.stdio.closeChildEnds()
	if err != nil {
		return fmt.Errorf("starting the native-exec helper: %w", err)
	}
	e.stdio.startCopies()
	if err := e.cg.addProc(e.cmd.Process.Pid); err != nil {
		return fmt.Errorf("moving the helper into cgroup %s: %w", e.cg.name(), err)
	}
	data, err := json.Marshal(pol)
	if err != nil {
		return err
	}
	if _, err := policyW.Write(data); err != nil {
		return fmt.Errorf("sending the policy to the helper: %w", err)
	}
	return nil
}

// readStatus reads the helper's messages until the status pipe closes,
// which it does when the command is executed (close-on-exec) or the helper
// exits. It returns the helper's report, or the error it sent.
func (e *Execution) readStatus(ctx context.Context) (Report, error) {
	defer e.statusR.Close()
	dec := json.NewDecoder(e.statusR)
	var rep *Report
	for {
		var m helperMsg
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return Report{}, fmt.Errorf("%w: reading its status: %v", ErrHelper, err)
		}
		if m.Error != "" {
			return Report{}, helperError(m)
		}
		rep = m.Report
	}
	if rep == nil {
		if ctx.Err() != nil {
			return Report{}, fmt.Errorf("starting the command: %w", ctx.Err())
		}
		if e.timedOut.Load() {
			return Report{}, fmt.Errorf("%w: timed out before the command started", ErrHelper)
		}
		// Its own stderr is the command's: say at least how it ended.
		_ = e.cmd.Wait()
		return Report{}, fmt.Errorf("%w: it ended (%v) without starting the command", ErrHelper, e.cmd.ProcessState)
	}
	return *rep, nil
}

// mergeReport adds what the parent enforced to the helper's report.
func (s *Sandbox) mergeReport(rep Report, pol *policy) Report {
	rep.NetNamespace = pol.Seccomp.DenyInet
	rep.Cgroup = s.cg.name()
	rep.Limits = s.report.Limits
	for _, m := range s.report.Missing {
		if !containsString(rep.Missing, m) {
			rep.Missing = append(rep.Missing, m)
		}
	}
	return rep
}

// abort undoes a failed Start.
func (e *Execution) abort() {
	e.stopTimers()
	_ = killAll(e.cg)
	if e.cmd != nil && e.cmd.Process != nil && e.cmd.ProcessState == nil {
		_ = e.cmd.Wait()
	}
	if e.statusR != nil {
		_ = e.statusR.Close()
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
	waitErr := e.cmd.Wait()
	duration := time.Since(e.started)
	e.stopTimers()
	killErr := killAll(e.cg)
	if killErr != nil {
		// Something survived (a paused sandbox): stop copying its output.
		e.stdio.closeParentEnds()
	}
	e.stdio.finish()
	ps := e.cmd.ProcessState
	if ps == nil {
		return nil, fmt.Errorf("waiting for the command: %w", waitErr)
	}
	res := &Result{Duration: duration, TimedOut: e.timedOut.Load(), Enforced: e.report}
	ws := ps.Sys().(syscall.WaitStatus)
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

// Signal sends sig to the command's process group (the helper made the
// command a session and group leader).
func (e *Execution) Signal(sig syscall.Signal) error {
	return unix.Kill(-e.cmd.Process.Pid, sig)
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
func Run(ctx context.Context, spec *bundle.Spec, p Process) (_ *Result, retErr error) {
	tmp, err := os.MkdirTemp("", "agentd-native-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// The sandbox user must be able to pass through to its scratch dir.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, err
	}
	sb, err := Create("run-"+randomHex(6), spec, tmp+"/sandbox")
	if err != nil {
		return nil, err
	}
	defer func() { retErr = errors.Join(retErr, sb.Destroy()) }()
	return sb.Exec(ctx, p)
}
