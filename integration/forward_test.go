//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// nativeRunArgs is `agentd sandbox --socket S --state-dir D run --backend
// native` with args.
func (e *sandboxEnv) nativeRunArgs(args ...string) []string {
	return append([]string{"sandbox", "--socket", e.sock, "--state-dir", e.state, "run", "--backend", "native"}, args...)
}

// startDaemon starts e's daemon (on demand, through an API call) and
// returns its pid.
func (e *sandboxEnv) startDaemon() int {
	e.t.Helper()
	e.must("ls", "-q")
	pid := e.daemonPid()
	if pid == 0 {
		e.t.Fatal("no daemon answers")
	}
	// It exists once the API answers, and is the daemon user's only.
	if fi, err := os.Stat(e.sock + ".run"); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		e.t.Fatalf("the daemon's run socket: %v %v, want a socket of mode 0600", fi, err)
	}
	return pid
}

// forwardedRuns is how many runs e's daemon has taken, from its log (the
// CLI starts it with its log beside the socket).
func (e *sandboxEnv) forwardedRuns() int {
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(e.sock), "agentd.log"))
	return strings.Count(string(data), `msg="forwarded run" pid=`)
}

// TestSandboxNativeRunForwarded: with a daemon up, `sandbox run --backend
// native` is done by the daemon (the command is the daemon's child) and
// looks to the caller exactly like the CLI doing it itself (AGENTD_NO_FORWARD=1):
// same output, same stderr, same exit codes.
func TestSandboxNativeRunForwarded(t *testing.T) {
	e := newSandboxEnv(t)
	daemon := e.startDaemon()

	r := e.sb("", "run", "--backend", "native", "--", "sh", "-c", "echo $PPID")
	if got := strings.TrimSpace(r.stdout); r.code != 0 || got != strconv.Itoa(daemon) {
		t.Fatalf("forwarded run: exit %d, parent %q, want the daemon %d; stderr %q", r.code, got, daemon, r.stderr)
	}
	r = runEnv(t, []string{"AGENTD_NO_FORWARD=1"}, "", e.bin, e.nativeRunArgs("--", "sh", "-c", "echo $PPID")...)
	if got := strings.TrimSpace(r.stdout); r.code != 0 || got == strconv.Itoa(daemon) {
		t.Fatalf("AGENTD_NO_FORWARD=1: exit %d, parent %q (daemon %d)", r.code, got, daemon)
	}

	// Under e.dir, which the sandbox user may pass through.
	data := filepath.Join(e.dir, "data")
	must(t, os.Mkdir(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "f"), []byte("data\n"), 0o644))
	e.compareForwarded(e.nativeRunArgs, []forwardCase{
		{"", []string{"--", "sh", "-c", "echo native; echo err >&2; exit 3"}, 3},
		{"", []string{"--", "no-such-command"}, 127},
		{"", []string{"--", "/etc/passwd"}, 126},
		{"", []string{"--timeout", "1s", "--", "sh", "-c", "(setsid sleep 60 &); sleep 60"}, 124},
		{"", []string{"--", "sh", "-c", "kill -KILL $$"}, 137},
		{"", []string{"--", "cat", "/etc/shadow"}, 1},
		{"", []string{"--ro", data, "--", "cat", filepath.Join(data, "f")}, 0},
		{"", []string{"--ro", data, "--", "sh", "-c", "echo x > " + filepath.Join(data, "g")}, 2},
		{"from stdin\n", []string{"-i", "--", "cat"}, 0},
		{"not read\n", []string{"--", "cat"}, 0},
		{"", []string{"--env", "A=1", "--", "sh", "-c", "echo $A $SECRET; env | cut -d= -f1 | sort | tr '\\n' ' '"}, 0},
		{"", []string{"--workdir", "/etc", "--", "true"}, 125},
		{"", []string{"--memory", "1k", "--", "true"}, 125},
	})

	// The scratch dir (HOME) is under the caller's TMPDIR, not the daemon's.
	tmp := filepath.Join(e.dir, "tmp")
	must(t, os.Mkdir(tmp, 0o711))
	r = runEnv(t, []string{"TMPDIR=" + tmp}, "", e.bin, e.nativeRunArgs("--", "sh", "-c", "echo $HOME; echo $PPID")...)
	if f := strings.Fields(r.stdout); r.code != 0 || len(f) != 2 || !strings.HasPrefix(f[0], tmp+"/") || f[1] != strconv.Itoa(daemon) {
		t.Errorf("TMPDIR=%s: exit %d, HOME and parent %q (daemon %d)", tmp, r.code, r.stdout, daemon)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("the run left %v in TMPDIR", ents)
	}

	// A signal to the CLI ends the command as it ends the CLI's own: exit
	// 128+N, nothing left running.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		n := sbUniqueSleep()
		cmd := exec.Command(e.bin, e.nativeRunArgs("--", "sh", "-c", "(setsid sleep "+n+" &); sleep "+n)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if !waitFor(15*time.Second, func() bool { return sbExactProcs("sleep "+n) >= 2 }) {
			t.Fatal("the sleeps never ran")
		}
		if ppids := parentsOf("sleep " + n); !slices.Contains(ppids, daemon) {
			t.Errorf("the command's parents %v: not forwarded to the daemon %d", ppids, daemon)
		}
		_ = cmd.Process.Signal(sig)
		err := waitTimeout(cmd, 30*time.Second)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(sig) {
			t.Errorf("%v to the CLI: %v, want exit %d", sig, err, 128+int(sig))
		}
		sbWaitNoProcs(t, "sleep "+n, 10*time.Second)
	}

	// Losing the CLI ends the command too: kill -9, or another signal
	// whose default ends the CLI (USR1).
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGUSR1} {
		n := sbUniqueSleep()
		cmd := exec.Command(e.bin, e.nativeRunArgs("--", "sleep", n)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if !waitFor(15*time.Second, func() bool { return sbExactProcs("sleep "+n) == 1 }) {
			t.Fatal("the sleep never ran")
		}
		_ = cmd.Process.Signal(sig)
		err := waitTimeout(cmd, 30*time.Second)
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != sig {
			t.Errorf("%v to the CLI: %v, want it killed by %v", sig, err, sig)
		}
		sbWaitNoProcs(t, "sleep "+n, 10*time.Second)
	}

	// A daemon that does not answer (stopped here) costs the CLI a few
	// seconds, then it runs the command itself.
	must(t, syscall.Kill(daemon, syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(daemon, syscall.SIGCONT) })
	r = e.sb("", "run", "--backend", "native", "--", "sh", "-c", "echo $PPID")
	must(t, syscall.Kill(daemon, syscall.SIGCONT))
	if got := strings.TrimSpace(r.stdout); r.code != 0 || got == "" || got == strconv.Itoa(daemon) {
		t.Errorf("with the daemon stopped: exit %d, parent %q (daemon %d), stderr %q", r.code, got, daemon, r.stderr)
	}

	// What the daemon does not take, the CLI does itself: help, a terminal
	// request, a spec file.
	r = e.sb("", "run", "--backend", "native", "--help")
	if r.code != 0 || strings.Count(r.stdout, "USAGE") != 1 {
		t.Errorf("run --help: exit %d, stdout %q", r.code, r.stdout)
	}
	r = e.sb("", "run", "--backend", "native", "-t", "--", "sh", "-c", "test -t 0 && echo tty")
	if r.code != 0 || !strings.Contains(r.stdout, "tty") {
		t.Errorf("run -t (the daemon's terminal): exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = e.sb(`{"backend": "native"}`, "run", "--spec", "/dev/stdin", "--", "sh", "-c", "echo $PPID")
	if got := strings.TrimSpace(r.stdout); r.code != 0 || got == "" || got == strconv.Itoa(daemon) {
		t.Errorf("--spec /dev/stdin: exit %d, parent %q (daemon %d) %s", r.code, got, daemon, r.stderr)
	}
	// A caller whose own child would be elsewhere or confined runs its
	// command itself: in another mount namespace (its paths name other
	// files) or network namespace (--network host is its network); with
	// another umask or rlimits; under no_new_privs or seccomp (which its
	// child would inherit).
	self, err := os.Executable()
	must(t, err)
	for _, wrap := range [][]string{
		{"unshare", "-m"}, {"unshare", "-n"},
		{"sh", "-c", `umask 077; exec "$@"`, "sh"}, {"sh", "-c", `ulimit -f 1000000; exec "$@"`, "sh"},
		{"setpriv", "--no-new-privs"}, {self, "seccomp-exec"},
	} {
		args := append(append(wrap[1:], e.bin), e.nativeRunArgs("--", "sh", "-c", "echo $PPID")...)
		r = run(t, "", wrap[0], args...)
		if got := strings.TrimSpace(r.stdout); r.code != 0 || got == "" || got == strconv.Itoa(daemon) {
			t.Errorf("%v: exit %d, parent %q (daemon %d) %s", wrap, r.code, got, daemon, r.stderr)
		}
	}
}

// forwardCase is a run whose outcome must not depend on forwarding.
type forwardCase struct {
	stdin string
	args  []string
	code  int
}

// compareForwarded runs each case with e's daemon up, forwarded (the
// daemon must take it) and with AGENTD_NO_FORWARD=1, and
// wants the same stdout, the same stderr (one-shot
// container ids, which are random, aside) and the case's exit code both
// ways; the caller's environment must not reach the command.
func (e *sandboxEnv) compareForwarded(runArgs func(...string) []string, cases []forwardCase) {
	t := e.t
	t.Helper()
	for _, tt := range cases {
		args := runArgs(tt.args...)
		env := []string{"SECRET=caller-secret"}
		before := e.forwardedRuns()
		fwd := runEnv(t, env, tt.stdin, e.bin, args...)
		if n := e.forwardedRuns() - before; n != 1 {
			t.Errorf("%v: the daemon took %d runs, want 1 (the CLI ran it itself)", tt.args, n)
		}
		local := runEnv(t, append(env, "AGENTD_NO_FORWARD=1"), tt.stdin, e.bin, args...)
		if fwd.code != tt.code || local.code != tt.code {
			t.Errorf("%v: exit %d forwarded, %d not; want %d\nstderr forwarded %q\nstderr not %q",
				tt.args, fwd.code, local.code, tt.code, fwd.stderr, local.stderr)
		}
		fwdErr, localErr := runID.ReplaceAllString(fwd.stderr, "run-ID"), runID.ReplaceAllString(local.stderr, "run-ID")
		if fwd.stdout != local.stdout || fwdErr != localErr {
			t.Errorf("%v: forwarded and not differ:\nstdout %q\n   vs  %q\nstderr %q\n   vs  %q",
				tt.args, fwd.stdout, local.stdout, fwd.stderr, local.stderr)
		}
		if strings.Contains(fwd.stdout, "caller-secret") {
			t.Errorf("%v: the caller's environment reached the command: %q", tt.args, fwd.stdout)
		}
	}
}

// parentsOf lists the parent pids of the processes whose command line is
// exactly cmd.
func parentsOf(cmd string) []int {
	var out []int
	for _, pid := range sbProcsWith(cmd) {
		if _, ppid := sbProcState(pid); ppid != 0 {
			out = append(out, ppid)
		}
	}
	return out
}

// seccompExec is `<test binary> seccomp-exec CMD...`: CMD under a seccomp
// filter that allows everything, as a caller confined by seccomp would be.
func seccompExec(args []string) {
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err == nil {
		// Root may load a filter without no_new_privs, which the daemon
		// would decline on its own.
		err = f.SetNoNewPrivsBit(false)
	}
	if err == nil {
		err = f.AddRule(seccomp.ScmpSyscall(unix.SYS_ACCT), seccomp.ActErrno.SetReturnCode(int16(unix.EPERM)))
	}
	if err == nil {
		err = f.Load()
	}
	if err == nil {
		// Only seccomp, so that the daemon's decline is for that.
		status, _ := os.ReadFile("/proc/self/status")
		if !strings.Contains(string(status), "\nNoNewPrivs:\t0\n") || !strings.Contains(string(status), "\nSeccomp:\t2\n") {
			err = fmt.Errorf("want seccomp without no_new_privs:\n%s", status)
		}
	}
	if err == nil {
		err = syscall.Exec(args[0], args, os.Environ())
	}
	fmt.Fprintln(os.Stderr, "seccomp-exec:", err)
	os.Exit(125)
}

// runID is the id of a one-shot container in an error message.
var runID = regexp.MustCompile(`run-[0-9a-f]{12}`)

// containerRunArgs is `agentd sandbox --socket S --state-dir D run` with
// args: the container backend, the default base.
func (e *sandboxEnv) containerRunArgs(args ...string) []string {
	return append([]string{"sandbox", "--socket", e.sock, "--state-dir", e.state, "run"}, args...)
}

// TestSandboxContainerRunForwarded: with a daemon up, a container `sandbox
// run` is done by the daemon too (the container is its child, in the CLI's
// state dir) and looks to the caller exactly like the CLI doing it itself.
func TestSandboxContainerRunForwarded(t *testing.T) {
	e := newSandboxEnv(t)
	daemon := e.startDaemon()

	for _, forward := range []bool{true, false} {
		n := sbUniqueSleep()
		cmd := exec.Command(e.bin, e.containerRunArgs("--", "sleep", n)...)
		if !forward {
			cmd.Env = append(os.Environ(), "AGENTD_NO_FORWARD=1")
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if !waitFor(15*time.Second, func() bool { return sbExactProcs("sleep "+n) == 1 }) {
			t.Fatal("the sleep never ran")
		}
		// The container's parent is the daemon or the CLI (the CLI's own,
		// the test, is listed too: its command line names the sleep).
		ppids := parentsOf("sleep " + n)
		want, not := cmd.Process.Pid, daemon
		if forward {
			want, not = daemon, cmd.Process.Pid
		}
		if !slices.Contains(ppids, want) || slices.Contains(ppids, not) {
			t.Errorf("forwarding %v: the parents of processes naming the sleep %v, want %d and not %d", forward, ppids, want, not)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := waitTimeout(cmd, 30*time.Second)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Errorf("forwarding %v: TERM to the CLI: %v, want exit %d", forward, err, 128+int(syscall.SIGTERM))
		}
		sbWaitNoProcs(t, "sleep "+n, 10*time.Second)
	}

	// The CLI's AGENTD_SOCKET and AGENTD_STATE_DIR name the daemon and the
	// state dir as the flags do: the one-shot's bundle is in e.state.
	n := sbUniqueSleep()
	before := e.forwardedRuns()
	cmd := exec.Command(e.bin, "sandbox", "run", "--", "sleep", n)
	cmd.Env = append(os.Environ(), "AGENTD_SOCKET="+e.sock, "AGENTD_STATE_DIR="+e.state)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !waitFor(15*time.Second, func() bool { return sbExactProcs("sleep "+n) == 1 }) {
		t.Fatal("the sleep never ran")
	}
	if ents, _ := os.ReadDir(filepath.Join(e.state, "oneshot", "sandboxes")); len(ents) != 1 || e.forwardedRuns() != before+1 {
		t.Errorf("run with AGENTD_SOCKET and AGENTD_STATE_DIR: bundles %v in the state dir, %d runs forwarded; want 1 and 1",
			ents, e.forwardedRuns()-before)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = waitTimeout(cmd, 30*time.Second)
	sbWaitNoProcs(t, "sleep "+n, 10*time.Second)

	e.compareForwarded(e.containerRunArgs, []forwardCase{
		{"", []string{"--", "sh", "-c", "echo container; echo err >&2; exit 3"}, 3},
		{"", []string{"--", "no-such-command"}, 127},
		{"", []string{"--", "/etc/passwd"}, 126},
		{"", []string{"--timeout", "1s", "--", "sleep", "60"}, 124},
		{"from stdin\n", []string{"-i", "--", "cat"}, 0},
		{"not read\n", []string{"--", "cat"}, 0},
		{"", []string{"--env", "A=1", "--", "sh", "-c", "echo $A $SECRET; ls -a /root"}, 0},
		{"", []string{"--memory", "1k", "--", "true"}, 125},
		{"", []string{"--memory", "32m", "--", "sh", "-c", "head -c 33554432 /dev/zero > /tmp/big; echo $?"}, 0},
	})
	if out := e.must("ls", "-q"); out != "" {
		t.Errorf("one-shot runs left sandboxes: %q", out)
	}
	if m := mountsUnder(t, e.state); len(m) > 0 {
		t.Errorf("one-shot runs left mounts: %v", m)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.state, "oneshot", "sandboxes")); len(ents) != 0 {
		t.Errorf("one-shot runs left %v", ents)
	}
}
