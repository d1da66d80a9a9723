//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// agentdBin is the binary under test: $AGENTD_BIN, or ../bin/agentd.
func agentdBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AGENTD_BIN"); p != "" {
		return p
	}
	p, err := filepath.Abs("../bin/agentd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("agentd binary not built (run `make build`): %v", err)
	}
	return p
}

var (
	busyboxOnce sync.Once
	busyboxDir  string
	busyboxErr  error
)

// busyboxRootfs returns a read-only-by-convention rootfs directory built once
// per test run from Debian's busybox-static (/bin/busybox): /bin holds busybox
// and one symlink per applet, plus the directories a container needs. Tests
// that write into a rootfs must copy it (see copyRootfs).
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	busyboxOnce.Do(func() {
		busyboxDir, busyboxErr = buildBusyboxRootfs()
	})
	if busyboxErr != nil {
		t.Fatalf("building busybox rootfs: %v", busyboxErr)
	}
	return busyboxDir
}

// removeBusyboxRootfs deletes the rootfs busyboxRootfs built, after all
// tests, unless something is still mounted on it.
func removeBusyboxRootfs() {
	if busyboxDir == "" {
		return
	}
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(data), busyboxDir) {
		fmt.Fprintf(os.Stderr, "not removing %s: still mounted\n", busyboxDir)
		return
	}
	_ = os.RemoveAll(filepath.Dir(busyboxDir))
}

func buildBusyboxRootfs() (string, error) {
	dir, err := os.MkdirTemp("", "agentd-busybox-")
	if err != nil {
		return "", err
	}
	root := filepath.Join(dir, "rootfs")
	if out, err := exec.Command("../scripts/busybox-rootfs.sh", root).CombinedOutput(); err != nil {
		return "", fmt.Errorf("scripts/busybox-rootfs.sh: %v: %s", err, out)
	}
	return root, nil
}

// result is what a finished command showed its user.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the command with a deadline and returns what it printed and its
// exit code; it fails the test only if the command could not be started.
// Output goes through files, not pipes: a detached container inherits the
// command's stdio and would hold a pipe open long after the command exits.
func run(t testing.TB, stdin string, name string, args ...string) result {
	t.Helper()
	return runWith(t, runOpts{stdin: stdin}, name, args...)
}

// runEnv is run with env added to the test's environment.
func runEnv(t testing.TB, env []string, stdin string, name string, args ...string) result {
	t.Helper()
	return runWith(t, runOpts{env: env, stdin: stdin}, name, args...)
}

// runOpts are what run may add to a command.
type runOpts struct {
	stdin string
	env   []string   // added to the test's environment
	extra []*os.File // handed over from fd 3 on
}

func runWith(t testing.TB, o runOpts, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if o.env != nil {
		cmd.Env = append(os.Environ(), o.env...)
	}
	so, se := outputFile(t), outputFile(t)
	defer so.Close()
	defer se.Close()
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = so, se, o.extra
	if o.stdin != "" {
		cmd.Stdin = strings.NewReader(o.stdin)
	}
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running %s %v: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: readAll(t, so), stderr: readAll(t, se), code: code}
}

func outputFile(t testing.TB) *os.File {
	t.Helper()
	f, err := os.CreateTemp("", "agentd-test-out-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.Name())
	return f
}

func readAll(t testing.TB, f *os.File) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// processAlive reports whether pid names a process that has not exited (a
// zombie waiting for its reaper counts as exited).
func processAlive(pid int) bool {
	st, _ := sbProcState(pid)
	return st != 0 && st != 'Z'
}

// waitFor polls cond until it holds or timeout passes, and says whether it
// held: the one way these tests wait for a state.
func waitFor(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// waitTimeout waits for cmd, killing it if it has not ended after d.
func waitTimeout(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("still running after %v; killed", d)
	}
}
