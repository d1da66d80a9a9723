//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/native"
)

// Every test here is one thing a hostile command would try. Each asserts
// that the attempt is refused AND that a legitimate neighbouring action
// still works, so that a sandbox refusing everything cannot pass. The
// restrictions are applied in the child that becomes the command (or, where
// that cannot be used, the re-executed helper: TestMain dispatches
// native-exec), never in the test process.

// nativeRequire skips when this kernel lacks what the native backend needs.
func nativeRequire(t *testing.T) native.Capabilities {
	t.Helper()
	caps := native.Probe()
	switch {
	case caps.LandlockABI < native.MinLandlockABI:
		t.Skipf("kernel Landlock ABI %d: the native backend needs ABI 6 (Linux 6.12+)", caps.LandlockABI)
	case !caps.SeccompKernel:
		t.Skip("kernel without seccomp filters")
	case caps.CgroupVersion == 0:
		t.Skip("no usable cgroup hierarchy")
	}
	return caps
}

// nativeDirs is a test's host layout: rw, which the sandbox may write (owned
// by the sandbox user, holding data), and outside, which it must not touch
// although file modes would let it (0777 dir, 0666 secret), so that it is
// Landlock that refuses.
type nativeDirs struct{ base, rw, outside, secret, data string }

func newNativeDirs(t *testing.T) nativeDirs {
	t.Helper()
	base, err := os.MkdirTemp("", "agentd-native-it-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	d := nativeDirs{base: base, rw: filepath.Join(base, "rw"), outside: filepath.Join(base, "outside")}
	d.secret, d.data = filepath.Join(d.outside, "secret"), filepath.Join(d.rw, "data")
	must(t, os.Chmod(base, 0o755))
	must(t, os.Mkdir(d.rw, 0o755))
	must(t, os.WriteFile(d.data, []byte("DATA\n"), 0o644))
	must(t, os.Mkdir(filepath.Join(d.rw, "sub"), 0o755))
	for _, p := range []string{d.rw, d.data, filepath.Join(d.rw, "sub")} {
		must(t, os.Chown(p, 65534, 65534))
	}
	must(t, os.Mkdir(d.outside, 0o777))
	must(t, os.Chmod(d.outside, 0o777))
	must(t, os.WriteFile(d.secret, []byte("TOPSECRET\n"), 0o666))
	must(t, os.Chmod(d.secret, 0o666))
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (d nativeDirs) spec(network string) *bundle.Spec {
	return &bundle.Spec{Backend: bundle.BackendNative, WritePaths: []string{d.rw}, Network: bundle.Network{Mode: network}}
}

// nativeRun runs p in a sandbox made from spec and returns its output.
func nativeRun(t *testing.T, spec *bundle.Spec, p native.Process) (stdout, stderr string, res *native.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var so, se bytes.Buffer
	p.Stdout, p.Stderr = &so, &se
	res, err := native.Run(ctx, spec, p)
	if err != nil {
		t.Fatalf("native.Run(%q): %v", p.Args, err)
	}
	t.Logf("%q: exit %d\nstdout: %s\nstderr: %s", p.Args, res.ExitCode, so.String(), se.String())
	return so.String(), se.String(), res
}

// nativeSh runs a shell script in a sandbox made from spec.
func nativeSh(t *testing.T, spec *bundle.Spec, script string) (stdout, stderr string, res *native.Result) {
	t.Helper()
	return nativeRun(t, spec, native.Process{Args: []string{"/bin/sh", "-c", script}})
}

func wantIn(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s: want %q in:\n%s", what, sub, s)
		}
	}
}

func wantNotIn(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("%s: %q must not appear in:\n%s", what, sub, s)
		}
	}
}

// hostSleeper starts `sleep` on the host as the sandbox's uid (so that
// file modes and uids would allow signalling and tracing it: only the
// sandbox can refuse), in dir, with the secret in its environment.
func hostSleeper(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.Dir = dir
	cmd.Env = []string{"AGENTD_TEST_SECRET=sleeper-secret"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// buildProbe compiles native/testdata/probe (the raw syscalls a hostile
// command would make) into dir, readable and executable by the sandbox user.
func buildProbe(t *testing.T, dir string) string {
	t.Helper()
	src, err := filepath.Abs("../native/testdata/probe/main.go")
	must(t, err)
	bin := filepath.Join(dir, "probe")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	must(t, os.Chmod(bin, 0o755))
	return bin
}

func TestNativeFilesOutsideAllowedPaths(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	out, errOut, _ := nativeSh(t, d.spec(bundle.NetworkNone), fmt.Sprintf(`
		cat %[1]s && echo READ-OUTSIDE
		echo x > %[2]s/new && echo WROTE-OUTSIDE
		ls %[2]s && echo LISTED-OUTSIDE
		echo inside > %[3]s/new && cat %[3]s/new %[3]s/data`, d.secret, d.outside, d.rw))
	wantNotIn(t, "stdout", out, "TOPSECRET", "READ-OUTSIDE", "WROTE-OUTSIDE", "LISTED-OUTSIDE")
	wantIn(t, "stderr", errOut, "Permission denied")
	wantIn(t, "stdout (allowed write path)", out, "inside", "DATA")
	if _, err := os.Stat(filepath.Join(d.outside, "new")); err == nil {
		t.Error("the sandbox created a file outside its write paths")
	}
	if got, _ := os.ReadFile(filepath.Join(d.rw, "new")); string(got) != "inside\n" {
		t.Errorf("rw/new = %q, want inside", got)
	}
}

func TestNativeSymlinkInWritePath(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	must(t, os.Symlink(d.secret, filepath.Join(d.rw, "link")))
	must(t, os.Symlink(d.outside, filepath.Join(d.rw, "escape")))
	out, _, _ := nativeSh(t, d.spec(bundle.NetworkNone), `
		cat link && echo READ-VIA-LINK
		echo pwned > link && echo WROTE-VIA-LINK
		ln -s `+d.outside+` mine && cat mine/secret && echo READ-VIA-OWN-LINK
		echo x > mine/new && echo WROTE-VIA-OWN-LINK
		ln -s data good && cat good`)
	wantNotIn(t, "stdout", out, "TOPSECRET", "READ-VIA-LINK", "WROTE-VIA-LINK", "READ-VIA-OWN-LINK", "WROTE-VIA-OWN-LINK")
	wantIn(t, "stdout (symlink inside the write path)", out, "DATA")
	if got, _ := os.ReadFile(d.secret); string(got) != "TOPSECRET\n" {
		t.Errorf("secret changed to %q", got)
	}
	// A workdir through a symlink out of the root is refused; a real
	// subdirectory is fine.
	_, err := native.Run(context.Background(), d.spec(bundle.NetworkNone), native.Process{Args: []string{"pwd"}, Workdir: "escape"})
	if !errors.Is(err, native.ErrInvalidWorkdir) {
		t.Errorf("workdir through an escaping symlink: err = %v, want ErrInvalidWorkdir", err)
	}
	out, _, _ = nativeRun(t, d.spec(bundle.NetworkNone), native.Process{Args: []string{"pwd"}, Workdir: "sub"})
	if strings.TrimSpace(out) != filepath.Join(d.rw, "sub") {
		t.Errorf("pwd in workdir sub = %q", out)
	}
}

func TestNativeProcPaths(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	sleeper := hostSleeper(t, d.outside)
	spec := d.spec(bundle.NetworkNone)
	spec.ReadPaths = []string{"/proc"} // so that it is Landlock, not a missing rule, that refuses
	out, _, _ := nativeSh(t, spec, fmt.Sprintf(`
		cat /proc/self/root%[1]s && echo READ-VIA-ROOT
		cat /proc/%[2]d/cwd/secret && echo READ-VIA-CWD
		ls /proc/%[2]d/cwd/ && echo LISTED-VIA-CWD
		cat /proc/%[2]d/environ && echo READ-ENVIRON
		cat /proc/self/root%[3]s/data /proc/self/cwd/data
		grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status`, d.secret, sleeper.Process.Pid, d.rw))
	wantNotIn(t, "stdout", out, "TOPSECRET", "READ-VIA-ROOT", "READ-VIA-CWD", "LISTED-VIA-CWD", "READ-ENVIRON", "sleeper-secret")
	wantIn(t, "stdout (own files through /proc/self)", out, "DATA\nDATA\n")
	if !strings.Contains(out, "NoNewPrivs:\t1") || !strings.Contains(out, "Seccomp:\t2") {
		t.Errorf("want no_new_privs and a seccomp filter in /proc/self/status, got:\n%s", out)
	}
}

func TestNativeEtcShadow(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	spec := d.spec(bundle.NetworkNone)
	// Run in the group that owns /etc/shadow (Debian: shadow, which may
	// read it), so that Landlock has to be what refuses.
	fi, err := os.Stat("/etc/shadow")
	must(t, err)
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 0 {
		spec.User = &bundle.User{UID: 65534, GID: gid}
	}
	out, errOut, _ := nativeSh(t, spec, `cat /etc/shadow && echo READ-SHADOW; ls /root && echo LISTED-ROOT; grep '^nobody:' /etc/passwd`)
	wantNotIn(t, "stdout", out, "root:", "READ-SHADOW", "LISTED-ROOT")
	wantIn(t, "stderr", errOut, "Permission denied")
	wantIn(t, "stdout (/etc/passwd is readable)", out, "nobody:")
}

// tcpListener listens on 127.0.0.1:port (0: any) and counts connections.
func tcpListener(t *testing.T, port int) (int, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return 0, nil
	}
	return l.Addr().(*net.TCPAddr).Port, countAccepts(t, l)
}

// countAccepts accepts and closes l's connections until the test ends, and
// counts them.
func countAccepts(t *testing.T, l net.Listener) *atomic.Int32 {
	t.Cleanup(func() { l.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return &n
}

func TestNativeTCPToHostListener(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	probe := buildProbe(t, d.rw)
	port, accepted := tcpListener(t, 0)
	for _, network := range []string{bundle.NetworkHost, bundle.NetworkNone} {
		t.Run(network, func(t *testing.T) {
			out, _, res := nativeRun(t, d.spec(network), native.Process{Args: []string{probe, "tcp", fmt.Sprint(port)}})
			if res.ExitCode == 0 {
				t.Errorf("connect to the host's 127.0.0.1:%d succeeded: %s", port, out)
			}
			want := "permission denied" // Landlock
			if network == bundle.NetworkNone {
				want = "operation not permitted" // seccomp: no AF_INET at all
			}
			wantIn(t, "probe", out, want)
			out, _, _ = nativeRun(t, d.spec(network), native.Process{Args: []string{probe, "listen", "0"}})
			if network == bundle.NetworkHost {
				wantIn(t, "listen on the host's network", out, "permission denied") // Landlock: no bind port allowed
			} else {
				wantIn(t, "listen without a network", out, "operation not permitted") // seccomp: no AF_INET
			}
			// Protocols and families Landlock's TCP rules do not see.
			for _, p := range []string{"mptcp", "sctp", "seqpacket", "vsock"} {
				out, _, _ = nativeRun(t, d.spec(network), native.Process{Args: []string{probe, p, fmt.Sprint(port)}})
				wantIn(t, p+", which Landlock does not filter", out, "operation not permitted")
			}
			out, _, _ = nativeRun(t, d.spec(network), native.Process{Args: []string{probe, "abstract-self", "own-" + network}})
			wantIn(t, "unix socket of its own", out, "abstract-self: ok")
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the host listener accepted %d connections", n)
	}
	// With network host, the allowed ports (DNS, HTTP, HTTPS) stay
	// reachable: the first one free on this host is tried.
	for _, allowed := range []int{443, 80, 53} {
		if p, n := tcpListener(t, allowed); n != nil {
			out, _, _ := nativeRun(t, d.spec(bundle.NetworkHost), native.Process{Args: []string{probe, "tcp", fmt.Sprint(p)}})
			wantIn(t, fmt.Sprintf("connect to allowed port %d", p), out, "tcp: ok")
			return
		}
	}
	t.Fatal("ports 443, 80 and 53 are all taken on this host: no allowed port to try")
}

func TestNativeAbstractUnixSocket(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	probe := buildProbe(t, d.rw)
	name := fmt.Sprintf("agentd-it-%d", time.Now().UnixNano())
	l, err := net.Listen("unix", "@"+name)
	must(t, err)
	accepted := countAccepts(t, l)
	// Network host shares the abstract namespace: Landlock's scoping
	// must refuse. Network none has its own namespace on top.
	for _, network := range []string{bundle.NetworkHost, bundle.NetworkNone} {
		out, _, _ := nativeRun(t, d.spec(network), native.Process{Args: []string{probe, "abstract", name}})
		want := "operation not permitted" // Landlock's abstract unix socket scope
		if network == bundle.NetworkNone {
			want = "connection refused" // not even visible from its network namespace
		}
		wantIn(t, "connect to the host's abstract socket, network "+network, out, want)
		out, _, _ = nativeRun(t, d.spec(network), native.Process{Args: []string{probe, "abstract-self", name + "-own"}})
		wantIn(t, "abstract socket of its own", out, "abstract-self: ok")
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the host's abstract socket accepted %d connections", n)
	}
}

func TestNativeSignalHostProcess(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	sleeper := hostSleeper(t, d.outside)
	out, errOut, _ := nativeSh(t, d.spec(bundle.NetworkHost), fmt.Sprintf(`
		kill -TERM %d && echo KILLED-HOST
		sleep 100 & kill -TERM $! && wait $!; echo own=$?`, sleeper.Process.Pid))
	wantNotIn(t, "stdout", out, "KILLED-HOST")
	wantIn(t, "stderr", errOut, "Operation not permitted")
	wantIn(t, "stdout (signalling its own child)", out, "own=143")
	if !processAlive(sleeper.Process.Pid) {
		t.Error("the host's sleep died")
	}
}

func TestNativePtrace(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	probe := buildProbe(t, d.rw)
	sleeper := hostSleeper(t, d.outside)
	out, _, res := nativeRun(t, d.spec(bundle.NetworkNone), native.Process{Args: []string{probe, "ptrace", fmt.Sprint(sleeper.Process.Pid)}})
	if res.ExitCode == 0 {
		t.Fatalf("ptrace attach to a host process succeeded: %s", out)
	}
	wantIn(t, "probe", out, "operation not permitted")
	out, _, _ = nativeRun(t, d.spec(bundle.NetworkNone), native.Process{Args: []string{probe, "ptrace-child"}})
	wantIn(t, "ptrace of its own child", out, "ptrace-child: operation not permitted")
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", sleeper.Process.Pid))
	wantIn(t, "host sleep", string(status), "TracerPid:\t0")
	out, _, _ = nativeRun(t, d.spec(bundle.NetworkNone), native.Process{Args: []string{probe, "fork"}})
	wantIn(t, "starting a child of its own", out, "fork: ok")
}

func TestNativeMountAndNamespaces(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	probe := buildProbe(t, d.rw)
	spec := d.spec(bundle.NetworkNone)
	_, _, res := nativeSh(t, spec, "mkdir mnt")
	if res.ExitCode != 0 {
		t.Fatal("mkdir in the write path failed")
	}
	for _, c := range []struct{ probe, want string }{
		{"mount", "operation not permitted"},
		{"unshare", "operation not permitted"},
		{"clone-newuser", "operation not permitted"},
		{"clone3", "function not implemented"},
		{"io_uring", "operation not permitted"},
		{"keyctl", "operation not permitted"},
	} {
		out, _, _ := nativeRun(t, spec, native.Process{Args: []string{probe, c.probe, filepath.Join(d.rw, "mnt")}})
		wantIn(t, c.probe, out, c.probe+": "+c.want)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	wantNotIn(t, "host mounts", string(mounts), filepath.Join(d.rw, "mnt"))
}

func TestNativeEnvironment(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	t.Setenv("AGENTD_TEST_SECRET", "caller-secret-value")
	spec := d.spec(bundle.NetworkNone)
	spec.Env = map[string]string{"FOO": "from-spec", "LANG": "en_US.UTF-8"}
	out, _, _ := nativeRun(t, spec, native.Process{Args: []string{"env"}, Env: map[string]string{"EXTRA": "from-exec"}})
	wantNotIn(t, "env", out, "AGENTD_TEST_SECRET", "caller-secret-value")
	wantIn(t, "env", out, "FOO=from-spec", "EXTRA=from-exec", "LANG=en_US.UTF-8", "PATH=/usr/local/sbin:", "HOME=/", "TERM=dumb", "TMPDIR=/")
	if n := len(strings.Split(strings.TrimSpace(out), "\n")); n != 7 {
		t.Errorf("want exactly 7 variables, got %d", n)
	}
}

func TestNativeTimeoutKillsDoubleForkedChild(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	pidFile := filepath.Join(d.rw, "gc.pid")
	p := native.Process{Timeout: 2 * time.Second, Args: []string{"/bin/sh", "-c", fmt.Sprintf(`
		( setsid sh -c 'echo $$ > %[1]s; exec sleep 30' </dev/null >/dev/null 2>&1 & )
		while [ ! -s %[1]s ]; do sleep 0.05; done
		echo started; sleep 1000`, pidFile)}}
	out, _, res := nativeRun(t, d.spec(bundle.NetworkNone), p)
	if !res.TimedOut || res.Signal != syscall.SIGKILL {
		t.Errorf("result %+v: want timed out, killed", res)
	}
	wantIn(t, "stdout (the command ran)", out, "started")
	data, err := os.ReadFile(pidFile)
	must(t, err)
	var gc int
	fmt.Sscan(string(data), &gc)
	if gc == 0 || !waitFor(5*time.Second, func() bool { return !processAlive(gc) }) {
		t.Fatalf("the double-forked setsid grandchild %d survived the timeout", gc)
	}
	cg := strings.SplitN(res.Enforced.Cgroup, ":", 2)[1]
	for _, dir := range []string{"/sys/fs/cgroup/pids" + cg, "/sys/fs/cgroup" + cg} {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cgroup %s still exists", dir)
		}
	}
}

func TestNativeCancelKillsTree(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	sb := newSandbox(t, "it-cancel", d.spec(bundle.NetworkNone), filepath.Join(d.base, "sandbox"))
	pidFile := filepath.Join(d.rw, "bg.pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, err := sb.Start(ctx, native.Process{Args: []string{"/bin/sh", "-c",
		"setsid sleep 1000 & echo $! > " + pidFile + "; sleep 1000"}})
	must(t, err)
	var bg int
	waitFor(10*time.Second, func() bool {
		data, _ := os.ReadFile(pidFile)
		fmt.Sscan(string(data), &bg)
		return bg != 0
	})
	if bg == 0 || !processAlive(bg) {
		t.Fatalf("the background child never started (pid %d)", bg)
	}
	cancel()
	res, err := e.Wait()
	if !errors.Is(err, context.Canceled) || res == nil || res.Signal != syscall.SIGKILL {
		t.Errorf("after cancel: %+v, %v; want killed and context.Canceled", res, err)
	}
	if !waitFor(5*time.Second, func() bool { return !processAlive(bg) }) {
		t.Errorf("background child %d survived the cancel", bg)
	}
	// The sandbox itself lives on.
	if r, err := sb.Exec(context.Background(), native.Process{Args: []string{"true"}}); err != nil || r.ExitCode != 0 {
		t.Errorf("exec after a cancelled one: %+v %v", r, err)
	}
}

// openPTY opens a pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	must(t, err)
	t.Cleanup(func() { master.Close() })
	unlock := 0
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	must(t, err)
	return master, slave
}

func TestNativeTerminal(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	probe := buildProbe(t, d.rw)
	master, slave := openPTY(t)
	sb := newSandbox(t, "it-tty", d.spec(bundle.NetworkNone), filepath.Join(d.base, "sandbox"))
	// Device ioctls: allowed on /dev/tty (a terminal's settings), refused
	// on the other devices (/dev/null: EACCES from Landlock, not ENOTTY).
	e, err := sb.Start(context.Background(), native.Process{Tty: true, Stdin: slave, Stdout: slave, Stderr: slave,
		Args: []string{"/bin/sh", "-c", "test -t 0 && echo isatty; echo via-dev-tty > /dev/tty; " + probe + " tiocsti; tty; " +
			probe + " ioctl /dev/tty; " + probe + " ioctl /dev/null"}})
	must(t, err)
	slave.Close()
	out := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = b.ReadFrom(master) // ends with EIO once the command is gone
		out <- b.String()
	}()
	res, err := e.Wait()
	must(t, err)
	got := <-out
	t.Logf("terminal output: %q, %+v", got, res)
	// Its own controlling terminal (/dev/tty) works; pushing input into it
	// does not.
	wantIn(t, "terminal", got, "isatty", "via-dev-tty", "tiocsti: operation not permitted", "/dev/pts/",
		"ioctl: ok", "ioctl: permission denied")
	if _, err := sb.Start(context.Background(), native.Process{Tty: true, Args: []string{"true"}}); !errors.Is(err, native.ErrInvalidSpec) {
		t.Errorf("tty without a terminal: %v, want ErrInvalidSpec", err)
	}
}

func TestNativeForkBomb(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	spec := d.spec(bundle.NetworkNone)
	spec.Limits.Pids = 64
	sb := newSandbox(t, "it-forkbomb", spec, filepath.Join(d.base, "sandbox"))
	e, err := sb.Start(context.Background(), native.Process{Timeout: 20 * time.Second,
		Args: []string{"/bin/bash", "-c", "f() { f | f; }; f"}})
	must(t, err)
	var peak uint64
	waitFor(15*time.Second, func() bool {
		st, err := sb.Stats()
		must(t, err)
		peak = max(peak, st.Pids)
		if st.Pids > 64 {
			t.Fatalf("%d processes in a sandbox limited to 64", st.Pids)
		}
		return peak >= 60
	})
	if peak < 60 {
		t.Errorf("the fork bomb never reached the limit (peak %d): is it running?", peak)
	}
	must(t, e.Kill())
	res, err := e.Wait()
	must(t, err)
	t.Logf("fork bomb: peak %d processes, result %+v", peak, res)
	// Killed processes whose parents died too are reaped by init; the
	// pids controller counts them until then.
	var st *native.Stats
	start := time.Now()
	waitFor(10*time.Second, func() bool {
		st, err = sb.Stats()
		return err != nil || st.Pids == 0
	})
	must(t, err)
	if st.Pids != 0 {
		t.Errorf("%d processes left after the kill", st.Pids)
	}
	t.Logf("pids count back to 0 after %v", time.Since(start))
	// The host is fine and so is the sandbox.
	must(t, exec.Command("true").Run())
	if r, err := sb.Exec(context.Background(), native.Process{Args: []string{"true"}}); err != nil || r.ExitCode != 0 {
		t.Errorf("after the bomb: %v %+v", err, r)
	}
}

func TestNativeMemoryLimit(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	probe := buildProbe(t, d.rw)
	spec := d.spec(bundle.NetworkNone)
	spec.Limits.MemoryBytes = 64 << 20
	_, _, res := nativeRun(t, spec, native.Process{Args: []string{probe, "alloc", "256"}})
	if !res.OOMKilled || res.Signal != syscall.SIGKILL {
		t.Errorf("allocating 256 MiB under a 64 MiB limit: %+v, want OOM-killed", res)
	}
	out, _, res := nativeRun(t, spec, native.Process{Args: []string{probe, "alloc", "8"}})
	if res.ExitCode != 0 || res.OOMKilled {
		t.Errorf("allocating 8 MiB: %+v %s", res, out)
	}
}

// newSandbox creates a persistent sandbox for a test; it is destroyed at
// the end of the test if the test did not destroy it.
func newSandbox(t *testing.T, id string, spec *bundle.Spec, dir string) *native.Sandbox {
	t.Helper()
	sb, err := native.Create(id, spec, dir)
	must(t, err)
	t.Cleanup(func() { sb.Destroy() })
	return sb
}

func TestNativeSandboxExecs(t *testing.T) {
	caps := nativeRequire(t)
	d := newNativeDirs(t)
	dir := filepath.Join(d.base, "sandboxes", "it-execs")
	spec := d.spec(bundle.NetworkNone)
	spec.Limits = bundle.Limits{MemoryBytes: 128 << 20, Cpus: 0.5, Pids: 100}
	sb := newSandbox(t, "it-execs", spec, dir)
	if _, err := native.Create("it-execs", spec, dir); !errors.Is(err, native.ErrExist) {
		t.Errorf("creating it twice: %v, want ErrExist", err)
	}
	ctx := context.Background()
	var out bytes.Buffer
	_, err := sb.Exec(ctx, native.Process{Args: []string{"sh", "-c", "echo kept > $HOME/state; echo $HOME; id -u; id -G; ulimit -n; ulimit -c"}, Stdout: &out})
	must(t, err)
	if got, want := out.String(), sb.Scratch()+"\n65534\n65534\n4096\n0\n"; got != want {
		t.Errorf("HOME, uid, groups, open files, core size = %q, want %q", got, want)
	}
	out.Reset()
	_, err = sb.Exec(ctx, native.Process{Args: []string{"cat", sb.Scratch() + "/state"}, Stdout: &out})
	must(t, err)
	wantIn(t, "the scratch dir between execs", out.String(), "kept")
	long, err := sb.Start(ctx, native.Process{Args: []string{"sleep", "1000"}})
	must(t, err)
	defer long.Kill()
	st, err := sb.Stats()
	must(t, err)
	if st.Paused || st.Pids != 1 || st.MemoryBytes == 0 || st.CPUTime == 0 || st.MemoryLimitBytes != 128<<20 || st.PidsLimit != 100 {
		t.Errorf("stats %+v: want running, 1 process, memory and CPU used, limits 128 MiB and 100", st)
	}
	if caps.CgroupVersion == 1 {
		cg := strings.SplitN(sb.Report().Cgroup, ":", 2)[1]
		quota, _ := os.ReadFile("/sys/fs/cgroup/cpu" + cg + "/cpu.cfs_quota_us")
		if strings.TrimSpace(string(quota)) != "50000" {
			t.Errorf("cpu.cfs_quota_us = %q, want 50000 (0.5 CPU)", quota)
		}
	}
}

// freezerState reads the kernel's freezer state of a native cgroup
// ("v1:/agentd-native/id" or "v2:..."): freezer.state on v1, the frozen
// line of cgroup.events on v2.
func freezerState(t *testing.T, cg string) string {
	t.Helper()
	version, path, _ := strings.Cut(cg, ":")
	file, key := "/sys/fs/cgroup/freezer"+path+"/freezer.state", ""
	if version == "v2" {
		file, key = "/sys/fs/cgroup"+path+"/cgroup.events", "frozen"
	}
	data, err := os.ReadFile(file)
	must(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if key == "" || strings.HasPrefix(line, key+" ") {
			return line
		}
	}
	return ""
}

func TestNativeSandboxPauseReloadDestroy(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	dir := filepath.Join(d.base, "sandboxes", "it-life")
	sb := newSandbox(t, "it-life", d.spec(bundle.NetworkNone), dir)
	cg := strings.SplitN(sb.Report().Cgroup, ":", 2)[1]
	ctx := context.Background()
	long, err := sb.Start(ctx, native.Process{ID: "long", Args: []string{"sleep", "1000"}})
	must(t, err)
	if _, err := sb.Start(ctx, native.Process{ID: "long", Args: []string{"true"}}); !errors.Is(err, native.ErrExist) {
		t.Errorf("a second exec with the same id: %v, want ErrExist", err)
	}
	must(t, sb.Pause())
	if st, err := sb.Stats(); err != nil || !st.Paused {
		t.Errorf("after Pause: %+v %v", st, err)
	}
	// Pause returns once the kernel says the whole cgroup is frozen.
	if got := freezerState(t, sb.Report().Cgroup); got != "FROZEN" && got != "frozen 1" {
		t.Errorf("after Pause the freezer says %q", got)
	}
	if _, err := sb.Exec(ctx, native.Process{Args: []string{"true"}}); !errors.Is(err, native.ErrPaused) {
		t.Errorf("exec in a paused sandbox: %v, want ErrPaused", err)
	}
	must(t, sb.Resume())
	if r, err := sb.Exec(ctx, native.Process{Args: []string{"true"}}); err != nil || r.ExitCode != 0 {
		t.Errorf("exec after Resume: %+v %v", r, err)
	}
	// A restarted daemon reattaches and kills what an earlier exec left.
	sb2, err := native.Load("it-life", dir)
	must(t, err)
	must(t, sb2.KillExec("long"))
	if res, err := long.Wait(); err != nil || res.Signal != syscall.SIGKILL {
		t.Errorf("exec killed by KillExec: %+v %v", res, err)
	}
	must(t, sb2.Destroy())
	for _, p := range []string{dir, "/sys/fs/cgroup/freezer" + cg, "/sys/fs/cgroup/pids" + cg, "/sys/fs/cgroup" + cg} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s still exists after Destroy", p)
		}
	}
	if _, err := sb2.Exec(ctx, native.Process{Args: []string{"true"}}); !errors.Is(err, native.ErrDestroyed) {
		t.Errorf("exec after Destroy: %v, want ErrDestroyed", err)
	}
	if _, err := native.Load("it-life", dir); !errors.Is(err, native.ErrNotExist) {
		t.Errorf("Load after Destroy: %v, want ErrNotExist", err)
	}
}

func TestNativeRefusals(t *testing.T) {
	nativeRequire(t)
	d := newNativeDirs(t)
	outsideTrue := filepath.Join(d.outside, "true")
	data, err := os.ReadFile("/bin/true")
	must(t, err)
	must(t, os.WriteFile(outsideTrue, data, 0o755))
	ctx := context.Background()
	root := &bundle.Spec{Backend: bundle.BackendNative, User: &bundle.User{UID: 0, GID: 0}}
	missing := &bundle.Spec{Backend: bundle.BackendNative, WritePaths: []string{filepath.Join(d.base, "missing")}}
	for _, c := range []struct {
		name string
		spec *bundle.Spec
		p    native.Process
		want error
	}{
		{"not found", d.spec(bundle.NetworkNone), native.Process{Args: []string{"no-such-command-agentd"}}, native.ErrCommandNotFound},
		{"not executable", d.spec(bundle.NetworkNone), native.Process{Args: []string{d.data}}, native.ErrNotExecutable},
		{"binary outside the allowed paths", d.spec(bundle.NetworkNone), native.Process{Args: []string{outsideTrue}}, native.ErrNotExecutable},
		{"absolute workdir", d.spec(bundle.NetworkNone), native.Process{Args: []string{"true"}, Workdir: "/tmp"}, native.ErrInvalidWorkdir},
		{"workdir with ..", d.spec(bundle.NetworkNone), native.Process{Args: []string{"true"}, Workdir: "sub/../../outside"}, native.ErrInvalidWorkdir},
		{"root user", root, native.Process{Args: []string{"true"}}, native.ErrInvalidSpec},
		{"missing write path", missing, native.Process{Args: []string{"true"}}, native.ErrInvalidSpec},
	} {
		_, err := native.Run(ctx, c.spec, c.p)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	// The same binary from an allowed path runs.
	if _, _, res := nativeRun(t, d.spec(bundle.NetworkNone), native.Process{Args: []string{"/bin/true"}}); res.ExitCode != 0 {
		t.Errorf("/bin/true: %+v", res)
	}
}

func TestNativeProbeMeasures(t *testing.T) {
	caps := native.Probe()
	abi, _, errno := syscall.Syscall(444 /* landlock_create_ruleset */, 0, 0, 1 /* VERSION */)
	if errno != 0 {
		abi = 0
	}
	if caps.LandlockABI != int(abi) {
		t.Errorf("Probe Landlock ABI %d, kernel says %d", caps.LandlockABI, abi)
	}
	var fs syscall.Statfs_t
	must(t, syscall.Statfs("/sys/fs/cgroup", &fs))
	if fs.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
		if caps.CgroupVersion != 2 {
			t.Errorf("unified host, Probe says %+v", caps)
		}
	} else {
		if caps.CgroupVersion != 1 {
			t.Errorf("v1 host, Probe says %+v", caps)
		}
		for _, c := range []string{"memory", "pids", "freezer", "cpu"} {
			_, err := os.Stat("/sys/fs/cgroup/" + c + "/cgroup.procs")
			if got := caps.HasController(c); got != (err == nil) {
				t.Errorf("controller %s: Probe says %v, mounted: %v", c, got, err == nil)
			}
		}
	}
	// Network namespaces: whether this process can make one, tried.
	if canNetns := exec.Command("unshare", "--net", "true").Run() == nil; caps.NetNamespace != canNetns {
		t.Errorf("Probe says network namespaces %v, unshare --net says %v", caps.NetNamespace, canNetns)
	}
	if !caps.Root || !caps.SeccompKernel {
		t.Errorf("Probe as root: %+v", caps)
	}
	t.Logf("probe: %+v", caps)
}

func TestNativeReportMatchesProbe(t *testing.T) {
	caps := nativeRequire(t)
	d := newNativeDirs(t)
	spec := d.spec(bundle.NetworkNone)
	spec.BestEffort = true // runs even in a build without libseccomp, and says so
	_, _, res := nativeRun(t, spec, native.Process{Args: []string{"true"}})
	rep := res.Enforced
	if rep.LandlockABI != min(caps.LandlockABI, caps.LandlockLibABI) || rep.Seccomp != caps.Seccomp() ||
		!rep.NoNewPrivs || !rep.NetNamespace || rep.UID != 65534 || !strings.HasPrefix(rep.Cgroup, fmt.Sprintf("v%d:", caps.CgroupVersion)) {
		t.Errorf("report %+v does not match the probe %+v", rep, caps)
	}
	if missing := strings.Join(rep.Missing, "; "); caps.Seccomp() != !strings.Contains(missing, "seccomp") {
		t.Errorf("missing %q, seccomp available: %v", missing, caps.Seccomp())
	}
}
