//go:build linux

package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// HelperArg is the hidden command that runs the helper: a binary using this
// package must call [HelperMain] when os.Args[1] == HelperArg.
const HelperArg = "native-exec"

// File descriptors the parent hands the helper (exec.Cmd.ExtraFiles).
const (
	policyFD      = 3 // the policy, JSON; the parent closes it when written
	statusFD      = 4 // helper messages, JSON; closed on exec (O_CLOEXEC)
	maxPolicySize = 4 << 20
)

// Kinds of helper failure, mapped back to sentinel errors by the parent.
const (
	kindSetup       = "setup"
	kindUnsupported = "unsupported"
	kindWorkdir     = "workdir"
	kindNotFound    = "not-found"
	kindNotExec     = "not-executable"
)

// helperMsg is one message from the helper: the report once everything is
// enforced, or the error that stopped it.
type helperMsg struct {
	Report *Report `json:"report,omitempty"`
	Kind   string  `json:"kind,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// HelperMain is the native-exec helper. It reads its policy from fd 3, then,
// in this order: sets rlimits, opens the workdir beneath the sandbox root
// (still as root, so any root works), drops to the sandbox user (setgroups,
// setresgid, setresuid), changes into the workdir as that user, sets
// no_new_privs, applies Landlock (rule paths are opened as the user, so a
// path the user could not reach anyway fails here), loads the seccomp
// filter (last: it refuses nothing the steps before need), looks the command
// up, reports what it enforced on fd 4 and executes the command. It never
// returns: on any failure it reports the error and exits 125 (127 command
// not found, 126 not executable).
func HelperMain() {
	// Landlock and seccomp apply to the thread that execs; keep this
	// goroutine on one thread (both are also applied to every thread).
	runtime.LockOSThread()
	status := os.NewFile(statusFD, "status")
	if status == nil {
		os.Exit(125)
	}
	_, _ = unix.FcntlInt(statusFD, unix.F_SETFD, unix.FD_CLOEXEC)
	pol, err := readPolicy()
	if err != nil {
		helperFail(status, err)
	}
	rep, path, err := enforce(pol)
	if err != nil {
		helperFail(status, err)
	}
	sendMsg(status, helperMsg{Report: &rep})
	err = unix.Exec(path, pol.Args, pol.Env)
	if errors.Is(err, unix.ENOENT) {
		err = fmt.Errorf("%w: %s: %v", ErrCommandNotFound, pol.Args[0], err)
	} else {
		err = fmt.Errorf("%w: %s: %v", ErrNotExecutable, pol.Args[0], err)
	}
	helperFail(status, err)
}

func readPolicy() (*policy, error) {
	f := os.NewFile(policyFD, "policy")
	if f == nil {
		return nil, errors.New("no policy file descriptor")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	if len(data) > maxPolicySize {
		return nil, errors.New("policy too large")
	}
	var pol policy
	if err := json.Unmarshal(data, &pol); err != nil {
		return nil, fmt.Errorf("decoding policy: %w", err)
	}
	if len(pol.Args) == 0 {
		return nil, errors.New("policy has no command")
	}
	return &pol, nil
}

// enforce applies pol to the helper and returns what was enforced and the
// path of the command to execute.
func enforce(pol *policy) (Report, string, error) {
	rep := Report{UID: pol.UID, GID: pol.GID}
	if err := setRlimits(pol.NoFile); err != nil {
		return rep, "", err
	}
	rep.Rlimits = rlimitNames(pol.NoFile)
	// Nothing but 0-4 was handed over; make sure nothing else leaks.
	_ = unix.CloseRange(statusFD+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	wd, err := resolveWorkdir(pol.Root, pol.Workdir)
	if err != nil {
		return rep, "", err
	}
	defer wd.Close()
	if err := dropPrivileges(pol.UID, pol.GID); err != nil {
		return rep, "", err
	}
	if err := unix.Fchdir(int(wd.Fd())); err != nil {
		return rep, "", fmt.Errorf("%w: user %d cannot enter workdir %s: %v", ErrInvalidWorkdir, pol.UID, wd.Name(), err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return rep, "", fmt.Errorf("setting no_new_privs: %w", err)
	}
	rep.NoNewPrivs = true
	if rep.LandlockABI, err = applyLandlock(pol.Landlock); err != nil {
		return rep, "", err
	}
	rep.Landlock = landlockFeatures(rep.LandlockABI)
	if rep.LandlockABI < MinLandlockABI {
		rep.Missing = append(rep.Missing, fmt.Sprintf("Landlock ABI %d (enforced: %d)", MinLandlockABI, rep.LandlockABI))
	}
	if err := loadSeccomp(pol.Seccomp); err != nil {
		if !pol.BestEffort {
			return rep, "", err
		}
		rep.Missing = append(rep.Missing, "seccomp: "+err.Error())
	} else {
		rep.Seccomp = true
	}
	path, err := lookPath(pol.Args[0], pol.Env)
	return rep, path, err
}

// setRlimits turns core dumps off (a dump could leave a copy of secrets in
// memory where the sandbox cannot clean it up) and bounds open files.
// syscall.Setrlimit, unlike x/sys/unix, also stops the Go runtime from
// restoring its own saved RLIMIT_NOFILE on exec.
func setRlimits(nofile uint64) error {
	if err := syscall.Setrlimit(unix.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		return fmt.Errorf("setting RLIMIT_CORE: %w", err)
	}
	if err := syscall.Setrlimit(unix.RLIMIT_NOFILE, &syscall.Rlimit{Cur: nofile, Max: nofile}); err != nil {
		return fmt.Errorf("setting RLIMIT_NOFILE: %w", err)
	}
	return nil
}

// dropPrivileges switches every thread to uid and gid with no supplementary
// groups; being root before, the helper loses all its capabilities.
func dropPrivileges(uid, gid uint32) error {
	if err := syscall.Setgroups([]int{}); err != nil {
		return fmt.Errorf("clearing supplementary groups: %w", err)
	}
	if err := syscall.Setresgid(int(gid), int(gid), int(gid)); err != nil {
		return fmt.Errorf("setting gid %d: %w", gid, err)
	}
	if err := syscall.Setresuid(int(uid), int(uid), int(uid)); err != nil {
		return fmt.Errorf("setting uid %d: %w", uid, err)
	}
	return nil
}

// lookPath finds name on the PATH of env (the command's, not the helper's),
// or checks it as given when it has a slash.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, checkExecutable(name)
	}
	pathEnv, _ := lookupEnv(env, "PATH")
	found := fmt.Errorf("%w: %s not found on PATH %s", ErrCommandNotFound, name, pathEnv)
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, ErrNotExecutable) {
			found = err
		}
	}
	return "", found
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("%w: %s", ErrCommandNotFound, p)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotExecutable, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: %s is a directory", ErrNotExecutable, p)
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotExecutable, p, err)
	}
	return nil
}

func sendMsg(w io.Writer, m helperMsg) {
	data, _ := json.Marshal(m)
	_, _ = w.Write(append(data, '\n'))
}

// helperFail reports err to the parent and exits.
func helperFail(status *os.File, err error) {
	kind, code := kindSetup, 125
	switch {
	case errors.Is(err, ErrCommandNotFound):
		kind, code = kindNotFound, 127
	case errors.Is(err, ErrNotExecutable):
		kind, code = kindNotExec, 126
	case errors.Is(err, ErrInvalidWorkdir):
		kind = kindWorkdir
	case errors.Is(err, ErrUnsupported):
		kind = kindUnsupported
	}
	sendMsg(status, helperMsg{Kind: kind, Error: err.Error()})
	os.Exit(code)
}

// helperError turns a failure message of the helper into an error that
// wraps the matching sentinel.
func helperError(m helperMsg) error {
	sentinel := ErrHelper
	switch m.Kind {
	case kindNotFound:
		sentinel = ErrCommandNotFound
	case kindNotExec:
		sentinel = ErrNotExecutable
	case kindWorkdir:
		sentinel = ErrInvalidWorkdir
	case kindUnsupported:
		sentinel = ErrUnsupported
	}
	msg := m.Error
	if s := sentinel.Error() + ": "; strings.HasPrefix(msg, s) {
		msg = strings.TrimPrefix(msg, s)
	}
	return fmt.Errorf("%w: %s", sentinel, msg)
}
