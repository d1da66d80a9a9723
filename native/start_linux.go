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
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Steps of the spawn child, in its order; a failure names the step. The C
// enum in spawn_linux.go mirrors them (checked when it compiles).
const (
	stageOK = iota
	stageCgroup
	stageSetsid
	stageStdio
	stageCtty
	stageFDs
	stageRlimit
	stageCreds
	stageChdir
	stageNNP
	stageLandlock
	stageSeccomp
	stageSignals
	stageExec
)

var stageNames = [...]string{
	stageCgroup: "joining the cgroup", stageSetsid: "creating a session",
	stageStdio: "setting up stdin, stdout and stderr", stageCtty: "making the terminal the controlling one",
	stageFDs: "closing inherited files", stageRlimit: "setting rlimits", stageCreds: "switching user",
	stageChdir: "entering the workdir", stageNNP: "setting no_new_privs", stageLandlock: "enforcing Landlock",
	stageSeccomp: "loading the seccomp filter", stageSignals: "resetting signal handlers",
	stageExec: "executing the command",
}

// spawnAttr is what the spawn child applies to itself before it executes
// the command. Its file descriptors are the caller's; the child inherits
// them in its copy of the descriptor table (all are close-on-exec).
type spawnAttr struct {
	paths      []string // candidates for the command, tried in order
	args, env  []string
	cgroupFDs  []int // cgroup.procs files the child writes "0" to
	stdio      [3]int
	ctty       bool // make stdin the controlling terminal
	workdirFD  int
	uid, gid   uint32
	nofile     uint64
	landlockFD int    // -1: no Landlock
	filter     []byte // seccomp BPF; nil: none
	// filterOptional lets the child go on when the kernel refuses the
	// filter (bestEffort); spawn then returns the kernel's error.
	filterOptional bool
	newNet         bool
}

// spawnFailure is where and why the spawn child failed before the command
// ran.
type spawnFailure struct {
	stage int
	errno syscall.Errno
}

func (f *spawnFailure) Error() string {
	if f.stage > 0 && f.stage < len(stageNames) {
		return stageNames[f.stage] + ": " + f.errno.Error()
	}
	return fmt.Sprintf("step %d: %v", f.stage, f.errno)
}

// start starts the command of pol: with [spawn] where this build has it,
// else through the native-exec helper. It returns once the command is
// executing with every restriction in force, and what was enforced; from
// then on, timeout and ctx end the command's whole process tree.
func (e *Execution) start(ctx context.Context, pol *policy, tty bool, timeout time.Duration) (Report, error) {
	if !spawnAvailable || forceHelper || !spawnSafe() {
		statusR, err := e.startHelper(pol, tty)
		if err != nil {
			return Report{}, err
		}
		e.watch(ctx, timeout)
		return e.readStatus(ctx, statusR)
	}
	if err := ctx.Err(); err != nil {
		return Report{}, fmt.Errorf("starting the command: %w", err)
	}
	rep, err := e.startDirect(pol, tty)
	if err != nil {
		return Report{}, err
	}
	e.watch(ctx, timeout)
	return rep, nil
}

// forceHelper makes every command start through the helper; tests set it
// to check that both ways enforce the same.
var forceHelper = false

// spawnSafe reports whether this host lets [spawn] be used. Until it
// executes the command, the spawn child shares this process's memory; once
// it has switched to the sandbox user, what keeps other processes of that
// user from ptracing it (and so reading or writing agentd's memory) is the
// kernel making the memory non-dumpable on the uid change. The kernel does
// not when fs.suid_dumpable is 1 ("debug"): then the helper, which shares
// nothing, starts commands.
func spawnSafe() bool {
	// Read at every start (it can change), with three system calls.
	fd, err := unix.Open("/proc/sys/fs/suid_dumpable", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var buf [8]byte
	n, err := unix.Read(fd, buf[:])
	v := strings.TrimSpace(string(buf[:max(n, 0)]))
	return err == nil && (v == "0" || v == "2")
}

// startDirect starts the command with [spawn]. What needs the caller's
// privileges and view of the file system is prepared here: the workdir,
// resolved beneath the root; the Landlock ruleset; the seccomp program; the
// cgroup files. The child only applies them, to itself.
func (e *Execution) startDirect(pol *policy, tty bool) (Report, error) {
	rep := Report{UID: pol.UID, GID: pol.GID, NoNewPrivs: true, Rlimits: rlimitNames(pol.NoFile)}
	wd, err := resolveWorkdir(pol.Root, pol.Workdir)
	if err != nil {
		return rep, err
	}
	defer wd.Close()
	abi, ruleset, err := landlockRuleset(pol.Landlock)
	if err != nil {
		return rep, err
	}
	landlockFD := -1
	if ruleset != nil {
		defer ruleset.Close()
		landlockFD = int(ruleset.Fd())
	}
	rep.LandlockABI, rep.Landlock = abi, landlockFeatures(abi)
	if abi < MinLandlockABI {
		rep.Missing = append(rep.Missing, fmt.Sprintf("Landlock ABI %d (enforced: %d)", MinLandlockABI, abi))
	}
	filter, err := seccompProgram(pol.Seccomp)
	if err != nil {
		if !pol.BestEffort {
			return rep, err
		}
		rep.Missing = append(rep.Missing, "seccomp: "+err.Error())
	}
	procs, err := openCgroupProcs(e.cg)
	if err != nil {
		return rep, err
	}
	defer closeFDs(procs)
	pid, filterErr, failure, err := spawn(&spawnAttr{
		paths: commandPaths(pol.Args[0], pol.Env), args: pol.Args, env: pol.Env,
		cgroupFDs: procs, stdio: e.stdio.childFDs(), ctty: tty, workdirFD: int(wd.Fd()),
		uid: pol.UID, gid: pol.GID, nofile: pol.NoFile, landlockFD: landlockFD,
		filter: filter, filterOptional: pol.BestEffort, newNet: pol.Seccomp.DenyInet,
	})
	e.stdio.closeChildEnds()
	switch {
	case err != nil:
		return rep, fmt.Errorf("%w: starting the command: %v", ErrHelper, err)
	case failure != nil:
		return rep, failure.err(pol)
	case filterErr != nil:
		rep.Missing = append(rep.Missing, "seccomp: loading the filter: "+filterErr.Error())
	case filter != nil:
		rep.Seccomp = true
	}
	e.pid = pid
	e.stdio.startCopies()
	return rep, nil
}

// err is the failure as the error [Sandbox.Start] returns.
func (f *spawnFailure) err(pol *policy) error {
	name := pol.Args[0]
	switch f.stage {
	case stageExec:
		if f.errno != unix.ENOENT {
			return fmt.Errorf("%w: %s: %v", ErrNotExecutable, name, f.errno)
		}
		if strings.Contains(name, "/") {
			return fmt.Errorf("%w: %s", ErrCommandNotFound, name)
		}
		pathEnv, _ := lookupEnv(pol.Env, "PATH")
		return fmt.Errorf("%w: %s not found on PATH %s", ErrCommandNotFound, name, pathEnv)
	case stageChdir:
		return fmt.Errorf("%w: user %d cannot enter workdir %s: %v", ErrInvalidWorkdir, pol.UID, pol.Workdir, f.errno)
	}
	return fmt.Errorf("%w: %v", ErrHelper, f)
}

// commandPaths lists where the command may be, in the order execvp tries
// them: name itself when it has a slash, else name in each directory of the
// PATH of env (the command's, not agentd's; an empty entry is the workdir).
func commandPaths(name string, env []string) []string {
	if strings.Contains(name, "/") {
		return []string{name}
	}
	pathEnv, _ := lookupEnv(env, "PATH")
	var paths []string
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		paths = append(paths, filepath.Join(dir, name))
	}
	return paths
}

// openCgroupProcs opens the cgroup.procs file of each of cg's directories.
func openCgroupProcs(cg cgroup) ([]int, error) {
	var fds []int
	for _, dir := range cg.dirs() {
		fd, err := unix.Open(filepath.Join(dir, "cgroup.procs"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			closeFDs(fds)
			return nil, fmt.Errorf("opening cgroup %s: %w", cg.name(), err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}

func rlimitNames(nofile uint64) []string {
	return []string{"core=0", fmt.Sprintf("nofile=%d", nofile)}
}

// startHelper starts `/proc/self/exe native-exec` with an empty
// environment, in its own session (with stdin as its controlling terminal
// when tty is set, and in a new network namespace for network "none"),
// puts it in the exec's cgroup and only then sends it the policy: the
// helper waits for the policy, so it runs nothing outside the cgroup. It
// returns the pipe the helper reports on.
func (e *Execution) startHelper(pol *policy, tty bool) (*os.File, error) {
	policyR, policyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer policyW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		policyR.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
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
		cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNET
	}
	if tty {
		cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, 0 // the child's fd 0
	}
	err = cmd.Start()
	policyR.Close()
	statusW.Close()
	e.stdio.closeChildEnds()
	if err != nil {
		statusR.Close()
		return nil, fmt.Errorf("starting the native-exec helper: %w", err)
	}
	// Reaped by pid, like a spawned command: the handle is not needed.
	e.pid = cmd.Process.Pid
	_ = cmd.Process.Release()
	e.stdio.startCopies()
	if err := e.cg.addProc(e.pid); err != nil {
		statusR.Close()
		return nil, fmt.Errorf("moving the helper into cgroup %s: %w", e.cg.name(), err)
	}
	data, err := json.Marshal(pol)
	if err == nil {
		_, err = policyW.Write(data)
	}
	if err != nil {
		statusR.Close()
		return nil, fmt.Errorf("sending the policy to the helper: %w", err)
	}
	return statusR, nil
}

// readStatus reads the helper's messages until the status pipe closes,
// which it does when the command is executed (close-on-exec) or the helper
// exits. It returns the helper's report, or the error it sent.
func (e *Execution) readStatus(ctx context.Context, statusR *os.File) (Report, error) {
	defer statusR.Close()
	dec := json.NewDecoder(statusR)
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
		ws, _ := e.reap()
		how := fmt.Sprintf("exit status %d", ws.ExitStatus())
		if ws.Signaled() {
			how = "killed by " + ws.Signal().String()
		}
		return Report{}, fmt.Errorf("%w: it ended (%s) without starting the command", ErrHelper, how)
	}
	return *rep, nil
}
