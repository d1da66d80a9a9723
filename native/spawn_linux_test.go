//go:build linux && cgo

package native

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// spawnFixture is a workdir passable by the sandbox user and stdio pipes.
type spawnFixture struct {
	dir    string
	wd     *os.File
	out    *os.File // the read end of the command's stdout and stderr
	outW   *os.File
	devNul *os.File
}

func newSpawnFixture(t *testing.T) *spawnFixture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("spawn switches to the sandbox user: needs root")
	}
	base, err := os.MkdirTemp("", "agentd-spawn-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	f := &spawnFixture{dir: base}
	if f.wd, err = os.Open(base); err != nil {
		t.Fatal(err)
	}
	if f.out, f.outW, err = os.Pipe(); err != nil {
		t.Fatal(err)
	}
	if f.devNul, err = os.Open(os.DevNull); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.wd.Close(); f.out.Close(); f.outW.Close(); f.devNul.Close() })
	return f
}

func (f *spawnFixture) attr(paths []string, args ...string) *spawnAttr {
	return &spawnAttr{
		paths: paths, args: args, env: []string{"PATH=/usr/bin:/bin"},
		stdio:     [3]int{int(f.devNul.Fd()), int(f.outW.Fd()), int(f.outW.Fd())},
		workdirFD: int(f.wd.Fd()), uid: 65534, gid: 65534, nofile: 64, landlockFD: -1,
	}
}

// run spawns a, waits for the command and returns its output.
func (f *spawnFixture) run(t *testing.T, a *spawnAttr) (string, *spawnFailure) {
	t.Helper()
	pid, _, failure, err := spawn(a)
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	f.outW.Close()
	if failure != nil {
		return "", failure
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(f.out)
	if err != nil {
		t.Fatal(err)
	}
	return string(data), nil
}

func TestSpawnConfines(t *testing.T) {
	f := newSpawnFixture(t)
	a := f.attr([]string{"/bin/sh"}, "sh", "-c",
		"id -u; id -G; ulimit -n; ulimit -Hn; ulimit -c; pwd; ls /proc/self/fd; readlink /proc/self/ns/net; cat /proc/self/status | grep -E '^(SigBlk|NoNewPrivs|CapEff):'; ps -o sid= -p $$; echo $$")
	a.newNet = true
	out, failure := f.run(t, a)
	if failure != nil {
		t.Fatalf("spawn failed: %v", failure)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	want := []string{"65534", "65534", "64", "64", "0", f.dir, "0", "1", "2", "3"}
	if len(lines) != 16 {
		t.Fatalf("output:\n%s", out)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d = %q, want %q (uid, groups, nofile, core, workdir, only fds 0-2 and ls's own)\n%s", i, lines[i], w, out)
		}
	}
	if lines[10] == hostNet || !strings.HasPrefix(lines[10], "net:") {
		t.Errorf("network namespace %q, host's %q: want a new one", lines[10], hostNet)
	}
	// The child blocks every signal until it has reset the caller's
	// handlers: the command must get none blocked. It leads its own
	// session.
	for _, w := range []string{"SigBlk:\t0000000000000000", "NoNewPrivs:\t1", "CapEff:\t0000000000000000"} {
		if !strings.Contains(out, w) {
			t.Errorf("want %q in:\n%s", w, out)
		}
	}
	if sid, pid := strings.TrimSpace(lines[14]), lines[15]; sid != pid {
		t.Errorf("session %s, pid %s: want a session of its own", sid, pid)
	}
}

func TestSpawnFailures(t *testing.T) {
	f := newSpawnFixture(t)
	noExec := filepath.Join(f.dir, "tool")
	if err := os.WriteFile(noExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	closed := filepath.Join(f.dir, "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		wd    string
		stage int
		errno syscall.Errno
	}{
		{"missing", []string{"/nonexistent/tool", filepath.Join(f.dir, "missing")}, "", stageExec, unix.ENOENT},
		{"not executable", []string{noExec}, "", stageExec, unix.EACCES},
		{"not executable, then missing", []string{noExec, "/nonexistent/tool"}, "", stageExec, unix.EACCES},
		{"workdir the user cannot enter", []string{"/bin/true"}, closed, stageChdir, unix.EACCES},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newSpawnFixture(t)
			a := f.attr(tc.paths, "tool")
			if tc.wd != "" {
				wd, err := os.Open(tc.wd)
				if err != nil {
					t.Fatal(err)
				}
				defer wd.Close()
				a.workdirFD = int(wd.Fd())
			}
			_, failure := f.run(t, a)
			if failure == nil || failure.stage != tc.stage || failure.errno != tc.errno {
				t.Errorf("failure %v, want stage %d errno %v", failure, tc.stage, tc.errno)
			}
		})
	}
	// Past a refused candidate the search goes on, like execvp.
	out, failure := f.run(t, f.attr([]string{noExec, "/bin/echo"}, "echo", "found"))
	if failure != nil || out != "found\n" {
		t.Errorf("refused then found: %q, %v", out, failure)
	}
}

func TestSpawnFailureErr(t *testing.T) {
	pol := &policy{Args: []string{"tool"}, Env: []string{"PATH=/a:/b"}, UID: 65534, Workdir: "sub"}
	tests := []struct {
		f    spawnFailure
		want error
		msg  string
	}{
		{spawnFailure{stageExec, unix.ENOENT}, ErrCommandNotFound, "tool not found on PATH /a:/b"},
		{spawnFailure{stageExec, unix.EACCES}, ErrNotExecutable, "tool: permission denied"},
		{spawnFailure{stageChdir, unix.EACCES}, ErrInvalidWorkdir, "user 65534 cannot enter workdir sub"},
		{spawnFailure{stageLandlock, unix.E2BIG}, ErrHelper, "enforcing Landlock: argument list too long"},
	}
	for _, tc := range tests {
		err := tc.f.err(pol)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %v, want %v with %q", tc.f, err, tc.want, tc.msg)
		}
	}
}

func TestCommandPaths(t *testing.T) {
	tests := []struct {
		name, path string
		want       []string
	}{
		{"tool", "/a:/b/", []string{"/a/tool", "/b/tool"}},
		{"tool", "/a::/b", []string{"/a/tool", "tool", "/b/tool"}}, // empty: the workdir
		{"tool", "", nil},
		{"./tool", "/a", []string{"./tool"}},
		{"/bin/tool", "/a", []string{"/bin/tool"}},
	}
	for _, tc := range tests {
		got := commandPaths(tc.name, []string{"PATH=" + tc.path})
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("commandPaths(%q, PATH=%q) = %q, want %q", tc.name, tc.path, got, tc.want)
		}
	}
}
