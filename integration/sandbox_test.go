//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentd/agentd/native"
)

// backendsUnderTest are the create flags of each backend's tests.
func sbBackends(t *testing.T) map[string][]string {
	return map[string][]string{
		"container": {"--base", busyboxRootfs(t)},
		"native":    {"--backend", "native"},
	}
}

func TestSandboxLifecycle(t *testing.T) {
	for name, flags := range sbBackends(t) {
		t.Run(name, func(t *testing.T) {
			e := newSandboxEnv(t)
			id := e.createThroughPipes(append(flags, "--name", "life", "--env", "GREETING=hi")...)
			if out := e.must("ls"); !strings.Contains(out, id) || !strings.Contains(out, "running") {
				t.Fatalf("ls:\n%s", out)
			}
			tests := []struct {
				args   []string
				stdin  string
				code   int
				stdout string
			}{
				{[]string{"exec", "life", "--", "sh", "-c", "echo $GREETING"}, "", 0, "hi\n"},
				{[]string{"exec", id, "--", "sh", "-c", "exit 3"}, "", 3, ""},
				{[]string{"exec", id, "--", "no-such-command"}, "", 127, ""},
				{[]string{"exec", id, "--", "/etc/passwd"}, "", 126, ""},
				{[]string{"exec", id, "--", "sh", "-c", "kill -KILL $$"}, "", 137, ""},
				{[]string{"exec", "-i", id, "--", "cat"}, "piped input\n", 0, "piped input\n"},
				{[]string{"exec", "--env", "A=b", id, "--", "sh", "-c", "echo $A"}, "", 0, "b\n"},
			}
			for _, tt := range tests {
				r := e.sb(tt.stdin, tt.args...)
				if r.code != tt.code || (tt.stdout != "" && r.stdout != tt.stdout) {
					t.Errorf("%v: exit %d stdout %q stderr %q; want %d %q", tt.args, r.code, r.stdout, r.stderr, tt.code, tt.stdout)
				}
			}
			e.must("pause", id)
			if r := e.sb("", "exec", id, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "paused") {
				t.Errorf("exec into paused: %d %q", r.code, r.stderr)
			}
			var st struct{ MemoryBytes, CPUTimeNs int64 }
			if err := json.Unmarshal([]byte(e.must("stats", "--json", id)), &st); err != nil || st.MemoryBytes <= 0 || st.CPUTimeNs <= 0 {
				t.Errorf("stats: %+v %v", st, err)
			}
			e.must("resume", id)
			e.must("rm", id)
			for _, args := range [][]string{{"rm", id}, {"exec", id, "--", "true"}, {"inspect", id}} {
				if r := e.sb("", args...); r.code != 125 || !strings.Contains(r.stderr, "no such sandbox") {
					t.Errorf("%v after rm: %d %q", args, r.code, r.stderr)
				}
			}
		})
	}
}

func TestSandboxExecStreamsOutput(t *testing.T) {
	e := newSandboxEnv(t)
	id := e.create("--base", busyboxRootfs(t))
	cmd := exec.Command(e.bin, "sandbox", "--socket", e.sock, "--state-dir", e.state,
		"exec", id, "--", "sh", "-c", "echo first; sleep 3; echo second")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	first := time.Since(start)
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if first > 2*time.Second {
		t.Fatalf("the first line arrived after %v: output is not streamed", first)
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestSandboxTimeoutKillsTree: a timeout kills the exec's whole tree,
// including a grandchild that double-forked into its own session, and
// leaves no zombie.
func TestSandboxTimeoutKillsTree(t *testing.T) {
	for name, flags := range sbBackends(t) {
		t.Run(name, func(t *testing.T) {
			e := newSandboxEnv(t)
			id := e.create(flags...)
			n := sbUniqueSleep()
			hidden := n + "1" // another unique duration, never equal to n
			start := time.Now()
			// A double-forked setsid grandchild, and one that also clears
			// its environment (so that nothing but its cgroup says which
			// exec it came from).
			cmd := exec.Command(e.bin, "sandbox", "--socket", e.sock, "--state-dir", e.state,
				"exec", "--timeout", "3s", id, "--", "sh", "-c",
				"(setsid sleep "+n+" </dev/null >/dev/null 2>&1 &); "+
					"(env -i setsid sleep "+hidden+" </dev/null >/dev/null 2>&1 &); sleep "+n)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			// All three sleeps run before the timeout strikes.
			if !waitFor(3*time.Second, func() bool {
				return sbExactProcs("sleep "+n) >= 2 && sbExactProcs("sleep "+hidden) >= 1
			}) {
				_ = cmd.Process.Kill()
				t.Fatal("the exec's sleeps never all ran")
			}
			err := waitTimeout(cmd, 30*time.Second)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 124 {
				t.Fatalf("exec ended with %v, want exit 124", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("timeout took %v", d)
			}
			sbWaitNoProcs(t, "sleep "+n, 5*time.Second)
			sbWaitNoProcs(t, "sleep "+hidden, 5*time.Second)
			pid := e.daemonPid()
			if !waitFor(5*time.Second, func() bool { return len(sbZombiesOf(pid)) == 0 }) {
				t.Fatalf("zombies left under the daemon: %v", sbZombiesOf(pid))
			}
			// The sandbox is unharmed.
			if out := e.must("exec", id, "--", "echo", "ok"); out != "ok\n" {
				t.Fatalf("exec after timeout: %q", out)
			}
		})
	}
}

func TestSandboxRmKillsEverything(t *testing.T) {
	for name, flags := range sbBackends(t) {
		t.Run(name, func(t *testing.T) {
			e := newSandboxEnv(t)
			id := e.create(flags...)
			n, bg := e.startSleeper(id)
			if r := e.sb("", "rm", id); r.code != 125 || !strings.Contains(r.stderr, "running command") {
				t.Fatalf("rm with a running exec: %d %q", r.code, r.stderr)
			}
			e.must("rm", "-f", id)
			sbWaitNoProcs(t, "sleep "+n, 5*time.Second)
			err := bg.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
				t.Fatalf("the exec's CLI ended with %v, want exit 137", err)
			}
			if ents, _ := os.ReadDir(filepath.Join(e.state, "sandboxes")); len(ents) != 0 {
				t.Fatalf("state left: %v", ents)
			}

			// Paused, with two execs: frozen processes cannot die before
			// the sandbox thaws, and rm -f must not wait for them to, each
			// exec for its kill timeout (10 s; it took 15 s an exec).
			id = e.create(flags...)
			n1, bg1 := e.startSleeper(id)
			n2, bg2 := e.startSleeper(id)
			e.must("pause", id)
			start := time.Now()
			e.must("rm", "-f", id)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("rm -f of a paused sandbox with two execs took %v", d)
			}
			for _, bg := range []*exec.Cmd{bg1, bg2} {
				if err := waitTimeout(bg, 30*time.Second); err == nil {
					t.Error("an exec of the paused sandbox ended well after rm -f")
				}
			}
			sbWaitNoProcs(t, "sleep "+n1, 5*time.Second)
			sbWaitNoProcs(t, "sleep "+n2, 5*time.Second)
		})
	}
}

func TestSandboxRunOneShot(t *testing.T) {
	e := newSandboxEnv(t)
	r := e.sb("", "run", "--base", busyboxRootfs(t), "--", "sh", "-c", "echo one-shot; exit 7")
	if r.code != 7 || r.stdout != "one-shot\n" {
		t.Fatalf("run: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if out := e.must("ls", "-q"); out != "" {
		t.Fatalf("run left sandboxes: %q", out)
	}
	r = e.sb("", "run", "--base", busyboxRootfs(t), "--timeout", "1s", "--", "sleep", "60")
	if r.code != 124 {
		t.Fatalf("run with timeout: %d %q", r.code, r.stderr)
	}
	// The container one-shot needs no daemon either; exit codes as docker.
	ce := newSandboxEnv(t)
	for _, tt := range []struct {
		args  []string
		stdin string
		code  int
		out   string
	}{
		{[]string{"--", "sh", "-c", "echo $X; exit 4"}, "", 4, "y\n"},
		{[]string{"-i", "--", "cat"}, "from stdin\n", 0, "from stdin\n"},
		// The command is the container's init (as in docker run), so
		// only the kernel or the host can kill it: the OOM killer here.
		{[]string{"--memory", "32m", "--", "sh", "-c", `x=$(head -c 134217728 /dev/zero | tr '\0' a)`}, "", 137, ""},
		// Its writable layer is in memory, half the limit at most: a
		// bigger write fails as on a full disk (nothing is killed).
		{[]string{"--memory", "32m", "--", "sh", "-c", `e=$(head -c 33554432 /dev/zero 2>&1 >/tmp/big); echo $?; case $e in *"No space left"*) echo ENOSPC; esac`}, "", 0, "1\nENOSPC\n"},
		{[]string{"--", "no-such-command"}, "", 127, ""},
		{[]string{"--", "/etc/passwd"}, "", 126, ""},
		{[]string{"--timeout", "1s", "--", "sh", "-c", "(setsid sleep 60 &); sleep 60"}, "", 124, ""},
	} {
		args := append([]string{"--no-autostart", "run", "--env", "X=y"}, tt.args...)
		r := ce.sb(tt.stdin, args...)
		if r.code != tt.code || (tt.out != "" && r.stdout != tt.out) {
			t.Errorf("agentd sandbox %v: exit %d stdout %q stderr %q; want %d %q", args, r.code, r.stdout, r.stderr, tt.code, tt.out)
		}
	}
	if ce.daemonPid() != 0 {
		t.Fatal("a container run started a daemon")
	}
	if m := mountsUnder(t, ce.dir); len(m) > 0 {
		t.Errorf("container runs left mounts: %v", m)
	}
	if left, _ := filepath.Glob(filepath.Join(ce.state, "oneshot", "sandboxes", "*")); len(left) > 0 {
		t.Errorf("container runs left sandboxes: %v", left)
	}
	// A run whose CLI is killed (-9) leaves its container and its tmpfs;
	// the next one-shot removes them.
	n := sbUniqueSleep()
	cmd := exec.Command(ce.bin, "sandbox", "--socket", ce.sock, "--state-dir", ce.state, "--no-autostart", "run", "--", "sleep", n)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// If the next run failed to, remove what the killed one left.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		root := filepath.Join(filepath.Dir(ce.sock), "oneshot")
		for _, id := range strings.Fields(run(t, "", ce.bin, "--root", root, "list", "-q").stdout) {
			run(t, "", ce.bin, "--root", root, "delete", "--force", id)
		}
		for _, m := range mountsUnder(t, filepath.Join(ce.state, "oneshot")) {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	})
	if !waitFor(15*time.Second, func() bool { return sbExactProcs("sleep "+n) == 1 }) {
		t.Fatal("the sleep never ran")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(mountsUnder(t, ce.dir)) == 0 || sbExactProcs("sleep "+n) != 1 {
		t.Fatalf("after kill -9 of the CLI: mounts %v, sleeps %d; want the run's left behind", mountsUnder(t, ce.dir), sbExactProcs("sleep "+n))
	}
	if r := ce.sb("", "--no-autostart", "run", "--", "true"); r.code != 0 {
		t.Fatalf("the next run: exit %d, %s", r.code, r.stderr)
	}
	sbWaitNoProcs(t, "sleep "+n, 10*time.Second)
	if m := mountsUnder(t, ce.dir); len(m) > 0 {
		t.Errorf("the next run left the killed run's mounts: %v", m)
	}
	for _, d := range []string{"sandboxes", "locks"} {
		if left, _ := filepath.Glob(filepath.Join(ce.state, "oneshot", d, "*")); len(left) > 0 {
			t.Errorf("the next run left the killed run's files: %v", left)
		}
	}
	// The native backend needs no daemon: none answers on this socket and
	// none may be started.
	ne := newSandboxEnv(t)
	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--", "sh", "-c", "echo native; exit 3"}, 3, "native\n"},
		{[]string{"--", "no-such-command"}, 127, ""},
		{[]string{"--", "/etc/passwd"}, 126, ""},
		{[]string{"--timeout", "1s", "--", "sh", "-c", "(setsid sleep 60 &); sleep 60"}, 124, ""},
		{[]string{"--", "sh", "-c", "kill -KILL $$"}, 137, ""},
	} {
		args := append([]string{"--no-autostart", "run", "--backend", "native"}, tt.args...)
		r := ne.sb("", args...)
		if r.code != tt.code || (tt.out != "" && r.stdout != tt.out) {
			t.Errorf("agentd sandbox %v: exit %d stdout %q stderr %q; want %d %q", args, r.code, r.stdout, r.stderr, tt.code, tt.out)
		}
	}
	if ne.daemonPid() != 0 {
		t.Fatal("native run started a daemon")
	}
	r = ne.sb("", "--no-autostart", "ls")
	if r.code != 125 {
		t.Fatalf("ls without daemon and autostart: %d", r.code)
	}
}

// TestSandboxExecCgroup: a container exec runs in its own cgroup below the
// sandbox's, so the sandbox's limits hold for it; what it leaves running in
// the background when it ends normally keeps running until rm.
func TestSandboxExecCgroup(t *testing.T) {
	e := newSandboxEnv(t)
	id := e.create("--memory", "32m")
	if out := e.must("exec", id, "--", "cat", "/proc/self/cgroup"); !strings.Contains(out, "/exec-") {
		t.Errorf("the exec is not in a cgroup of its own:\n%s", out)
	}
	r := e.sb("", "exec", id, "--", "sh", "-c", `x=$(head -c 134217728 /dev/zero | tr '\0' a)`)
	if r.code != 137 {
		t.Errorf("128 MiB in a 32 MiB sandbox: exit %d, want 137 (OOM kill); stderr %q", r.code, r.stderr)
	}
	n := sbUniqueSleep()
	e.must("exec", id, "--", "sh", "-c", "(setsid sleep "+n+" </dev/null >/dev/null 2>&1 &)")
	if !waitFor(5*time.Second, func() bool { return sbExactProcs("sleep "+n) == 1 }) {
		t.Fatal("the background sleep of an exec that ended normally is not running")
	}
	if out := e.must("exec", id, "--", "echo", "ok"); out != "ok\n" {
		t.Fatalf("exec after the OOM kill: %q", out)
	}
	e.must("rm", "-f", id)
	sbWaitNoProcs(t, "sleep "+n, 5*time.Second)
}

// TestSandboxDaemonKill9Restart: after kill -9 of the daemon every sandbox
// is still there and usable, the exec that was running is reported as
// interrupted and its processes are gone.
func TestSandboxDaemonKill9Restart(t *testing.T) {
	e := newSandboxEnv(t)
	ids := map[string]string{}
	for name, flags := range sbBackends(t) {
		ids[name] = e.create(append(flags, "--name", name)...)
	}
	e.must("pause", ids["native"])
	n, bg := e.startSleeper(ids["container"])
	pid := e.daemonPid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := bg.Wait(); err == nil {
		t.Fatal("the exec's CLI succeeded although the daemon died")
	}
	// The next command starts a new daemon, which recovers.
	var list []struct {
		ID, State string
	}
	if err := json.Unmarshal([]byte(e.must("ls", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if e.daemonPid() == pid {
		t.Fatal("same daemon pid after kill -9")
	}
	got := map[string]string{}
	for _, s := range list {
		got[s.ID] = s.State
	}
	if got[ids["container"]] != "running" || got[ids["native"]] != "paused" || len(got) != 2 {
		t.Fatalf("after restart: %v", got)
	}
	var info struct {
		Interrupted []struct{ Args []string }
	}
	if err := json.Unmarshal([]byte(e.must("inspect", "--json", ids["container"])), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Interrupted) != 1 || !strings.Contains(strings.Join(info.Interrupted[0].Args, " "), "sleep "+n) {
		t.Fatalf("interrupted: %+v", info.Interrupted)
	}
	sbWaitNoProcs(t, "sleep "+n, 5*time.Second)
	e.must("resume", ids["native"])
	for name, id := range ids {
		if out := e.must("exec", id, "--", "echo", "alive"); out != "alive\n" {
			t.Errorf("%s after restart: %q", name, out)
		}
	}
}

func TestSandboxBadInput(t *testing.T) {
	e := newSandboxEnv(t)
	id := e.create("--base", busyboxRootfs(t))
	tests := []struct {
		stdin string
		args  []string
		msg   string
	}{
		{`{"mount":[]}`, []string{"create", "--spec", "-"}, "unknown field"},
		{`{`, []string{"create", "--spec", "-"}, "spec"},
		{"", []string{"create", "--profile", "godmode"}, "profile"},
		{"", []string{"create", "--memory", "lots"}, "--memory"},
		{"", []string{"create", "--name", "../x"}, "name"},
		{"", []string{"exec", "nosuch", "--", "true"}, "no such sandbox"},
		{"", []string{"exec", id}, "usage"},
		{"", []string{"resume", id}, "allowed when paused"},
		{"", []string{"cp", "/etc/hostname", "/tmp/x"}, "ID:/PATH"},
		{"", []string{"stats", "--bogus", id}, "bogus"},
	}
	for _, tt := range tests {
		r := e.sb(tt.stdin, tt.args...)
		if r.code != 125 || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%v: exit %d stderr %q; want 125 mentioning %q", tt.args, r.code, r.stderr, tt.msg)
		}
	}
	// Straight to the API: a body that never ends, garbage, a client that
	// leaves mid-stream.
	hc := e.httpClient()
	resp, err := hc.Post("http://agentd/v1/sandboxes", "application/json", sbEndlessReader{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("endless body: %d", resp.StatusCode)
	}
	resp, err = hc.Post("http://agentd/v1/sandboxes/"+id+"/exec", "application/json",
		strings.NewReader(`{"args":["sh","-c","echo go; sleep 600"]}`))
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close() // and leave
	if !strings.Contains(line, "started") {
		t.Fatalf("first frame %q", line)
	}
	sbWaitNoProcs(t, "sleep 600", 5*time.Second)
	if out := e.must("exec", id, "--", "echo", "fine"); out != "fine\n" {
		t.Fatalf("after bad input: %q", out)
	}
	if out := e.must("ls", "-q"); strings.TrimSpace(out) != id {
		t.Fatalf("sandboxes after bad input: %q", out)
	}
}

type sbEndlessReader struct{}

func (sbEndlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '['
	}
	return len(p), nil
}

func TestSandboxEvents(t *testing.T) {
	e := newSandboxEnv(t)
	e.must("probe") // start the daemon
	ev := exec.Command(e.bin, "sandbox", "--socket", e.sock, "--state-dir", e.state, "events", "--json")
	out, err := ev.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ev.Process.Signal(syscall.SIGINT)
		ev.Wait()
	}()
	lines := make(chan []byte, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	// The stream is live once it carries anything: make throwaway (native,
	// cheap) sandboxes until it does, then follow only the real one.
	for i := 0; len(lines) == 0; i++ {
		if i == 100 {
			t.Fatal("the event stream carries nothing")
		}
		e.must("rm", e.create("--backend", "native"))
	}
	id := e.create("--base", busyboxRootfs(t))
	e.must("exec", id, "--", "true")
	e.must("rm", id)
	want := []string{"state:creating", "state:running", "exec.start", "exec.exit", "state:removing", "removed"}
	for i := 0; i < len(want); {
		var line []byte
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("event stream ended before %s", want[i])
			}
			line = l
		case <-time.After(30 * time.Second):
			t.Fatalf("no event %s", want[i])
		}
		var ev struct{ Type, Sandbox, To string }
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Sandbox != id {
			continue // a warm-up sandbox's
		}
		got := ev.Type
		if got == "state" {
			got += ":" + ev.To
		}
		if got != want[i] {
			t.Fatalf("event %d: %s, want %s", i, line, want[i])
		}
		i++
	}
}

func TestSandboxCp(t *testing.T) {
	e := newSandboxEnv(t)
	id := e.create("--base", busyboxRootfs(t))
	local := t.TempDir()
	os.MkdirAll(filepath.Join(local, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(local, "tree", "sub", "f.txt"), []byte("payload\n"), 0o640)
	e.must("cp", filepath.Join(local, "tree"), id+":/tmp")
	if out := e.must("exec", id, "--", "cat", "/tmp/tree/sub/f.txt"); out != "payload\n" {
		t.Fatalf("copied in: %q", out)
	}
	e.must("cp", id+":/tmp/tree", filepath.Join(local, "back"))
	data, err := os.ReadFile(filepath.Join(local, "back", "sub", "f.txt"))
	if err != nil || string(data) != "payload\n" {
		t.Fatalf("copied out: %q %v", data, err)
	}
	if r := e.sb("", "cp", id+":/nonexistent", local); r.code != 125 {
		t.Fatalf("cp of a missing file: %d", r.code)
	}
}

func TestSandboxProbeAndSocket(t *testing.T) {
	e := newSandboxEnv(t)
	var caps []struct {
		Backend   string
		Available bool
		Reason    string
		Features  []struct {
			Name     string
			Enforced bool
		}
	}
	if err := json.Unmarshal([]byte(e.must("probe", "--json")), &caps); err != nil {
		t.Fatal(err)
	}
	if len(caps) != 2 || caps[0].Backend != "container" || caps[1].Backend != "native" {
		t.Fatalf("probe: %+v", caps)
	}
	// What the probe says is what a create finds.
	for _, c := range caps {
		r := e.sb("", "create", "--backend", c.Backend)
		if created := r.code == 0; created != c.Available {
			t.Errorf("probe says %s available=%v (%s), create: exit %d %q", c.Backend, c.Available, c.Reason, r.code, r.stderr)
		}
		if r.code == 0 {
			e.must("rm", "-f", strings.TrimSpace(r.stdout))
		}
		for _, f := range c.Features {
			if f.Name == "seccomp" && !f.Enforced && native.Probe().SeccompKernel {
				t.Errorf("%s: probe says no seccomp on a kernel that has it", c.Backend)
			}
		}
	}
	st, err := os.Stat(e.sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v", st.Mode())
	}
}

// TestSandboxTerminal: exec -t and run -t give the command a terminal of its
// own, its controlling one, on both backends; the CLI relays it to its own.
func TestSandboxTerminal(t *testing.T) {
	e := newSandboxEnv(t)
	script := "test -t 0 && echo isatty; echo via-dev-tty > /dev/tty; exit 4"
	for _, backend := range []string{"container", "native"} {
		id := e.create("--backend", backend)
		for _, args := range [][]string{
			{"exec", "-t", id, "--", "sh", "-c", script},
			{"run", "--backend", backend, "-t", "--", "sh", "-c", script},
		} {
			r := runPty(t, e.bin, append([]string{"sandbox", "--socket", e.sock, "--state-dir", e.state}, args...)...)
			if r.code != 4 || !strings.Contains(r.stdout, "isatty") || !strings.Contains(r.stdout, "via-dev-tty") {
				t.Errorf("%s %v: exit %d, terminal %q; want 4, isatty and via-dev-tty", backend, args[:2], r.code, r.stdout)
			}
		}
	}
}
