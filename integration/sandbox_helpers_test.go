//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sandboxEnv is one daemon's world: its own state dir and socket, never
// the defaults. The daemon is started on demand by the first CLI call and
// stopped, with every sandbox removed, when the test ends (also on failure).
type sandboxEnv struct {
	t     *testing.T
	bin   string
	dir   string
	sock  string
	state string
	// mounts are file systems the test put under dir, unmounted once the
	// daemon is gone.
	mounts []string
}

func newSandboxEnv(t *testing.T) *sandboxEnv {
	t.Helper()
	// Short, and traversable (o+x) for the native backend's sandbox user.
	dir, err := os.MkdirTemp("", "agentd-sb-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	e := &sandboxEnv{t: t, bin: agentdBin(t), dir: dir,
		sock: filepath.Join(dir, "run", "agentd.sock"), state: filepath.Join(dir, "state")}
	t.Cleanup(e.cleanup)
	return e
}

// sb runs `agentd sandbox --socket S --state-dir D args...`.
func (e *sandboxEnv) sb(stdin string, args ...string) result {
	e.t.Helper()
	return run(e.t, stdin, e.bin, append([]string{"sandbox", "--socket", e.sock, "--state-dir", e.state}, args...)...)
}

// must runs a sandbox command that must succeed and returns its stdout.
func (e *sandboxEnv) must(args ...string) string {
	e.t.Helper()
	return mustRun(e.t, e.bin, append([]string{"sandbox", "--socket", e.sock, "--state-dir", e.state}, args...)...)
}

// create makes a sandbox and returns its id.
func (e *sandboxEnv) create(args ...string) string {
	e.t.Helper()
	return strings.TrimSpace(e.must(append([]string{"create"}, args...)...))
}

// createThroughPipes is create with the CLI's stdout and stderr on pipes,
// as CI has them: the first call starts the daemon on demand, and the
// pipes must reach end of file when the CLI exits. A daemon that kept them
// open would hang whoever reads them (CI's output) past its limit.
func (e *sandboxEnv) createThroughPipes(args ...string) string {
	e.t.Helper()
	cmd := exec.Command(e.bin, append([]string{"sandbox", "--socket", e.sock, "--state-dir", e.state, "create"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan []byte, 1)
	go func() {
		data, _ := io.ReadAll(out) // returns at EOF: every writer closed
		done <- data
	}()
	var data []byte
	select {
	case data = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		e.t.Fatal("the CLI's stdout never reached end of file: something (the daemon?) holds it open")
	}
	if err := cmd.Wait(); err != nil {
		e.t.Fatalf("create: %v: %s", err, data)
	}
	if e.daemonPid() == 0 {
		e.t.Fatal("no daemon runs after the first create")
	}
	return strings.TrimSpace(string(data))
}

// startSleeper starts, in the background, an exec in sandbox id whose shell
// sleeps and leaves a setsid twin behind, and returns once both sleeps run.
// n is their unique duration (see sbExactProcs); the caller waits for bg.
func (e *sandboxEnv) startSleeper(id string) (n string, bg *exec.Cmd) {
	e.t.Helper()
	n = sbUniqueSleep()
	bg = exec.Command(e.bin, "sandbox", "--socket", e.sock, "--state-dir", e.state, "exec", id, "--",
		"sh", "-c", "(setsid sleep "+n+" </dev/null >/dev/null 2>&1 &); sleep "+n)
	if err := bg.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = bg.Process.Kill(); _ = bg.Wait() })
	if !waitFor(15*time.Second, func() bool { return sbExactProcs("sleep "+n) >= 2 }) {
		e.t.Fatal("the sleep and its setsid twin never both ran")
	}
	return n, bg
}

// httpClient talks to the daemon's socket directly.
func (e *sandboxEnv) httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", e.sock)
		}}}
}

// daemonPid asks the daemon for its pid; 0 if none answers.
func (e *sandboxEnv) daemonPid() int {
	resp, err := e.httpClient().Get("http://agentd/v1/version")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var v struct{ Pid int }
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return 0
	}
	return v.Pid
}

func (e *sandboxEnv) cleanup() {
	t := e.t
	if e.daemonPid() != 0 || sbHasSandboxes(e.state) {
		if ids := strings.Fields(e.sb("", "ls", "-q").stdout); len(ids) > 0 {
			if r := e.sb("", append([]string{"rm", "-f"}, ids...)...); r.code != 0 {
				t.Errorf("cleanup: rm -f: %s", r.stderr)
			}
		}
	}
	if pid := e.daemonPid(); pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !waitFor(10*time.Second, func() bool { return !processAlive(pid) }) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("cleanup: the daemon ignored SIGTERM")
		}
	}
	for _, m := range e.mounts {
		if err := unix.Unmount(m, 0); err != nil {
			t.Errorf("cleanup: unmounting %s: %v", m, err)
		}
	}
	if m := mountsUnder(e.t, e.dir); len(m) > 0 {
		t.Errorf("cleanup: mounts left under %s: %v", e.dir, m)
		return // never delete through a mount point
	}
	if t.Failed() {
		if log, err := os.ReadFile(filepath.Join(e.dir, "run", "agentd.log")); err == nil {
			t.Logf("daemon log:\n%s", log)
		}
	}
	_ = os.RemoveAll(e.dir)
}

func sbHasSandboxes(state string) bool {
	ents, _ := os.ReadDir(filepath.Join(state, "sandboxes"))
	return len(ents) > 0
}

// procState returns the state letter and parent of pid (0 if gone).
func sbProcState(pid int) (byte, int) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0, 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return f[0][0], ppid
}

// sbExactProcs counts the live processes whose command line is exactly cmd
// (arguments joined by spaces).
func sbExactProcs(cmd string) int {
	n := 0
	for _, pid := range sbProcsWith(cmd) {
		data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.TrimRight(strings.ReplaceAll(string(data), "\x00", " "), " ") == cmd {
			n++
		}
	}
	return n
}

// procsWith lists the live (non-zombie) processes whose command line
// contains marker.
func sbProcsWith(marker string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(strings.ReplaceAll(string(cmd), "\x00", " "), marker) {
			continue
		}
		if st, _ := sbProcState(pid); st != 0 && st != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// waitNoProcs fails the test if processes with marker survive for d.
func sbWaitNoProcs(t *testing.T, marker string, d time.Duration) {
	t.Helper()
	if !waitFor(d, func() bool { return len(sbProcsWith(marker)) == 0 }) {
		t.Fatalf("processes %v (%q) survived", sbProcsWith(marker), marker)
	}
}

// zombiesOf lists the zombie children of pid.
func sbZombiesOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ppid := sbProcState(p); st == 'Z' && ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// uniqueSleep returns a sleep duration no other test uses, to find the
// process again by its command line.
func sbUniqueSleep() string {
	return strconv.Itoa(100000 + int(time.Now().UnixNano()%800000))
}
