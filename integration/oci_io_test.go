//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestOCIConsoleSocket plays containerd's part for a `-t` task: agentd must
// send the pty master over --console-socket, and the process must talk to a
// terminal through it.
func TestOCIConsoleSocket(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle([]string{"sh", "-c", `[ -t 0 ] && echo is-a-tty; read line; echo "got $line"`}, func(s *specs.Spec) {
		s.Process.Terminal = true
	})
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	masterC := make(chan *os.File, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			masterC <- nil
			return
		}
		defer conn.Close()
		masterC <- recvFile(t, conn)
	}()
	e.ok("create", "--bundle", b, "--console-socket", sock, "tty1")
	var master *os.File
	select {
	case master = <-masterC:
	case <-time.After(30 * time.Second):
		t.Fatal("no pty master received on the console socket")
	}
	if master == nil {
		t.Fatal("console socket: accept or receive failed")
	}
	defer master.Close()
	e.ok("start", "tty1")
	if _, err := master.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	out := readUntil(t, master, "got hello", 20*time.Second)
	if !strings.Contains(out, "is-a-tty") {
		t.Errorf("the process's stdin is not a terminal; output %q", out)
	}
	e.waitStatus("tty1", specs.StateStopped)
}

func recvFile(t *testing.T, conn *net.UnixConn) *os.File {
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Error(err)
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Errorf("control messages: %v %d", err, len(msgs))
		return nil
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Errorf("unix rights: %v", err)
		return nil
	}
	return os.NewFile(uintptr(fds[0]), "pty-master")
}

// readUntil reads f until its output contains want, failing at the deadline.
func readUntil(t *testing.T, f *os.File, want string, d time.Duration) string {
	t.Helper()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		for !strings.Contains(out.String(), want) {
			n, err := f.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(d):
		f.Close()
		<-done
	}
	if !strings.Contains(out.String(), want) {
		t.Fatalf("terminal output %q does not contain %q", out.String(), want)
	}
	return out.String()
}

func TestOCIExec(t *testing.T) {
	e := newOCIEnv(t)
	e.ok("run", "-d", "--bundle", e.bundle(sleeper, nil), "x1")

	if got := e.ok("exec", "x1", "echo", "hi"); got != "hi\n" {
		t.Errorf("exec echo: %q", got)
	}
	if r := e.run("", "exec", "x1", "sh", "-c", "exit 5"); r.code != 5 {
		t.Errorf("exec exit code %d, want 5", r.code)
	}
	got := e.ok("exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "65534:65534", "x1", "sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g)"`)
	if got != "bar /tmp 65534:65534\n" {
		t.Errorf("exec with env, cwd and user: %q", got)
	}
	if r := e.run("from stdin\n", "exec", "x1", "cat"); r.stdout != "from stdin\n" {
		t.Errorf("exec stdin: %q", r.stdout)
	}

	proc := specs.Process{Args: []string{"sh", "-c", "echo $A"}, Env: []string{"PATH=/bin", "A=from-process-json"}, Cwd: "/"}
	pf := filepath.Join(t.TempDir(), "process.json")
	writeJSON(t, pf, &proc)
	if got := e.ok("exec", "--process", pf, "x1"); got != "from-process-json\n" {
		t.Errorf("exec --process: %q", got)
	}
	// --cap adds to a container process that names no capabilities.
	e.ok("run", "-d", "--bundle", e.bundle(sleeper, func(s *specs.Spec) { s.Process.Capabilities = nil }), "nocaps")
	if got := e.ok("exec", "--cap", "CAP_CHOWN", "nocaps", "grep", "^CapEff", "/proc/self/status"); got != "CapEff:\t0000000000000001\n" {
		t.Errorf("exec --cap CAP_CHOWN: %q, want CAP_CHOWN (bit 0) alone effective", got)
	}
	// A process.json's I/O priority and CPU affinity apply to the exec.
	writeJSON(t, pf, &specs.Process{Args: []string{"sh", "-c", "ionice; taskset -p $$"}, Env: []string{"PATH=/bin"}, Cwd: "/",
		IOPriority:      &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6},
		ExecCPUAffinity: &specs.CPUAffinity{Final: "0"}})
	if got := e.ok("exec", "--process", pf, "x1"); !strings.Contains(got, "best-effort: prio 6") || !strings.HasSuffix(got, "mask: 1\n") {
		t.Errorf("exec --process with ioPriority and execCPUAffinity: %q", got)
	}
	writeJSON(t, pf, &specs.Process{Args: []string{"true"}, Cwd: "relative"})
	if msg := e.fails("exec", "--process", pf, "x1"); !strings.Contains(msg, "process.cwd") {
		t.Errorf("bad process.json: %q, want it to name process.cwd", msg)
	}

	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	e.ok("exec", "--detach", "--pid-file", pidFile, "x1", "sleep", "1000")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(data))
	var pids []int
	json.Unmarshal([]byte(e.ok("ps", "--format", "json", "x1")), &pids)
	found := false
	for _, p := range pids {
		found = found || p == pid
	}
	if !found {
		t.Errorf("detached exec pid %d not among the container's %v", pid, pids)
	}

	e.ok("kill", "x1", "KILL")
	e.waitStatus("x1", specs.StateStopped)
	if msg := e.fails("exec", "x1", "true"); !strings.Contains(msg, "stopped") {
		t.Errorf("exec into stopped: %q", msg)
	}
}

func TestOCIEventsAndUpdate(t *testing.T) {
	e := newOCIEnv(t)
	e.ok("run", "-d", "--bundle", e.bundle(sleeper, nil), "u1")
	stats := func() map[string]any {
		var ev struct {
			Type string         `json:"type"`
			ID   string         `json:"id"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(e.ok("events", "--stats", "u1")), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "stats" || ev.ID != "u1" {
			t.Fatalf("events --stats: %+v", ev)
		}
		return ev.Data
	}
	field := func(m map[string]any, path ...string) float64 {
		var v any = m
		for _, p := range path {
			mm, _ := v.(map[string]any)
			v = mm[p]
		}
		f, _ := v.(float64)
		return f
	}
	d := stats()
	if field(d, "memory", "usage", "usage") <= 0 || field(d, "pids", "current") < 2 {
		t.Errorf("stats without usage figures: %v", d)
	}
	limit := int64(64 << 20)
	res, _ := json.Marshal(specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
	if r := e.run(string(res), "update", "--resources", "-", "u1"); r.code != 0 {
		t.Fatalf("update --resources -: %s", r.stderr)
	}
	e.ok("update", "--pids-limit", "50", "u1")
	d = stats()
	if got := field(d, "memory", "usage", "limit"); got != float64(limit) {
		t.Errorf("memory limit after update = %v, want %d", got, limit)
	}
	if got := field(d, "pids", "limit"); got != 50 {
		t.Errorf("pids limit after update = %v, want 50", got)
	}
	if msg := e.fails("update", "--memory", "lots", "u1"); !strings.Contains(msg, "size") {
		t.Errorf("bad --memory: %q", msg)
	}
}

// TestOCIEventsOOM follows `agentd events` while a process in the container
// allocates past its memory limit: an "oom" event must come.
func TestOCIEventsOOM(t *testing.T) {
	e := newOCIEnv(t)
	limit := int64(16 << 20)
	e.ok("run", "-d", "--bundle", e.bundle(sleeper, func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	}), "oom1")
	ev := exec.Command(e.bin, "--root", e.root, "events", "--interval", "1h", "oom1")
	out, err := ev.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ev.Process.Kill(); _ = ev.Wait() }()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Allocate until the OOM killer strikes, until an event comes (the
	// events command may not be listening yet when the first kill happens).
	deadline := time.After(60 * time.Second)
	for {
		e.run("", "exec", "oom1", "sh", "-c", `x=$(head -c 67108864 /dev/zero | tr '\0' a)`)
		select {
		case l := <-lines:
			if !strings.Contains(l, `"type":"oom"`) || !strings.Contains(l, `"id":"oom1"`) {
				t.Fatalf("event %q, want an oom event of oom1", l)
			}
			return
		case <-deadline:
			t.Fatal("no oom event")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestOCIForegroundTerminal: run -t and exec -t without --console-socket
// give the process a pty of agentd's making and relay it to agentd's own
// terminal, as runc does.
func TestOCIForegroundTerminal(t *testing.T) {
	e := newOCIEnv(t)
	script := "test -t 0 && echo isatty; tty; exit 3"
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) { s.Process.Terminal = true })
	r := runPty(t, e.bin, "--root", e.root, "run", "--bundle", b, "tty1")
	if r.code != 3 || !strings.Contains(r.stdout, "isatty") || !strings.Contains(r.stdout, "/dev/pts/") {
		t.Errorf("run with process.terminal: exit %d, terminal %q; want 3, isatty and a /dev/pts name", r.code, r.stdout)
	}
	e.ok("run", "-d", "--bundle", e.bundle(sleeper, nil), "tty2")
	r = runPty(t, e.bin, "--root", e.root, "exec", "-t", "tty2", "sh", "-c", script)
	if r.code != 3 || !strings.Contains(r.stdout, "isatty") || !strings.Contains(r.stdout, "/dev/pts/") {
		t.Errorf("exec -t: exit %d, terminal %q; want 3, isatty and a /dev/pts name", r.code, r.stdout)
	}
}
