//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// This file holds what the containerd and podman tests share: the runtimes
// they drive, a pty for `-t`, and the hunt for processes a test left behind.

// ociRuntime is a runc-compatible binary a client is pointed at. Every
// client test runs its steps with agentd and with Debian's runc, so a step
// that fails only for agentd is agentd's bug and not the harness's.
type ociRuntime struct {
	name string // subtest name: "agentd" or "runc"
	path string // absolute path of the binary
}

func clientRuntimes(t *testing.T) []ociRuntime {
	t.Helper()
	needTools(t, "runc")
	runc, _ := exec.LookPath("runc")
	return []ociRuntime{{"agentd", agentdBin(t)}, {"runc", runc}}
}

// needTools fails the test when a client it drives is not installed: CI
// installs them (`make deps-test`), so a missing one is a broken setup, not
// a reason to skip.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is not installed: run `make deps-test` (installs Debian's runc, containerd and podman)", n)
		}
	}
}

// mustRun runs a command and fails the test unless it exits 0.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	r := run(t, "", name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// runPty runs a command with a new pty as its controlling terminal and
// stdio, as `ctr run -t` needs, and returns what it wrote there (stdout and
// stderr together, in result.stdout) and its exit code.
func runPty(t *testing.T, name string, args ...string) result {
	t.Helper()
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	defer master.Close()
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		t.Fatalf("running %s %v: %v", name, args, err)
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, master) // ends with EIO once no one holds the slave
		close(copied)
	}()
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s %v: the pty stayed open after it exited", name, args)
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running %s %v: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: out.String(), code: code}
}

// pidsInCgroup returns the pids of processes whose cgroup path, in any
// hierarchy, contains s (a container id or a containerd namespace).
func pidsInCgroup(s string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "cgroup"))
		if err != nil || !bytes.Contains(data, []byte(s)) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// reapStragglers kills, by pid, the processes a test left running (found by
// command line and by cgroup) and reports them as a failure:
// nothing may outlive a test.
func reapStragglers(t *testing.T, what string, cmdlineMarks, cgroupMarks []string) {
	t.Helper()
	found := map[int]bool{}
	for _, m := range cmdlineMarks {
		for _, pid := range sbProcsWith(m) {
			found[pid] = true
		}
	}
	for _, m := range cgroupMarks {
		for _, pid := range pidsInCgroup(m) {
			found[pid] = true
		}
	}
	if len(found) == 0 {
		return
	}
	var desc []string
	for pid := range found {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		desc = append(desc, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	t.Errorf("%s left processes running (now killed):\n%s", what, strings.Join(desc, "\n"))
}

// unmountUnder lazily unmounts every mount point under dir, deepest first,
// so that a failed test's temporary directory can be removed.
func unmountUnder(t testing.TB, dir string) {
	t.Helper()
	mounts := mountsUnder(t, dir)
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = unix.Unmount(mounts[i], unix.MNT_DETACH)
	}
}

// removeCgroups removes the (empty) cgroup directories at path relative to
// every hierarchy's root, children first: what containerd leaves for a
// namespace after its last container is gone.
func removeCgroups(t testing.TB, rel string) {
	t.Helper()
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, r := range roots {
		top := filepath.Join(r, rel)
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("removing cgroup %s: %v", dirs[i], err)
			}
		}
	}
}

// memoryLimit returns the memory limit in bytes of the cgroup that pid is in,
// read on the host: memory.limit_in_bytes on cgroup v1, memory.max on v2.
func memoryLimit(t testing.TB, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatalf("cgroup of pid %d: %v", pid, err)
	}
	defer f.Close()
	var v2 string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				return readLimit(t, filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
			}
		}
		if parts[0] == "0" {
			v2 = parts[2]
		}
	}
	return readLimit(t, filepath.Join("/sys/fs/cgroup", v2, "memory.max"))
}

func readLimit(t testing.TB, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("memory limit: %v", err)
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", path, s, err)
	}
	return n
}
