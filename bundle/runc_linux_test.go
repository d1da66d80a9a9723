package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// probeEnv, set in a sandbox's environment, turns the test binary into
// syscallProbe instead of running tests.
const probeEnv = "AGENTD_BUNDLE_SYSCALL_PROBE"

func TestMain(m *testing.M) {
	if os.Getenv(probeEnv) == "1" {
		syscallProbe()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// syscallProbe tries system calls the default seccomp profile must refuse
// and prints name=result lines. Several of them succeed or fail differently
// without seccomp (unshare(0) succeeds, setns(-1) is EBADF, clone3(NULL) is
// EFAULT, io_uring_setup(0, NULL) is EINVAL or EFAULT), so the results show
// the filter, not just missing capabilities.
func syscallProbe() {
	raw := func(nr uintptr, a ...uintptr) string {
		var args [6]uintptr
		copy(args[:], a)
		_, _, e := unix.Syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
		return errnoString(e)
	}
	spawn := func(flags uintptr) string {
		cmd := exec.Command("/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
		var e syscall.Errno
		if err := cmd.Run(); errors.As(err, &e) {
			return errnoString(unix.Errno(e))
		} else if err != nil {
			return err.Error()
		}
		return "ok"
	}
	session := unix.KEY_SPEC_SESSION_KEYRING
	probes := []struct {
		name string
		run  func() string
	}{
		{"exec", func() string { return spawn(0) }},
		{"clone-newuser", func() string { return spawn(unix.CLONE_NEWUSER) }},
		{"clone-newnet", func() string { return spawn(unix.CLONE_NEWNET) }},
		{"clone3", func() string { return raw(unix.SYS_CLONE3, 0, 0) }},
		{"unshare", func() string { return raw(unix.SYS_UNSHARE, 0) }},
		{"setns", func() string { return raw(unix.SYS_SETNS, ^uintptr(0), 0) }},
		{"mount", func() string { return raw(unix.SYS_MOUNT, 0, 0, 0, 0, 0) }},
		{"io_uring_setup", func() string { return raw(unix.SYS_IO_URING_SETUP, 0, 0) }},
		{"perf_event_open", func() string { return raw(unix.SYS_PERF_EVENT_OPEN, 0, 0, 0, 0, 0) }},
		{"bpf", func() string { return raw(unix.SYS_BPF, 0xffff, 0, 0) }},
		{"keyctl", func() string { return raw(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(session), 0) }},
		{"personality-query", func() string { return raw(unix.SYS_PERSONALITY, 0xffffffff) }},
		{"personality-other", func() string { return raw(unix.SYS_PERSONALITY, 0x0400000) }},
		// Last: if it were allowed, the probe would become traced.
		{"ptrace", func() string { return raw(unix.SYS_PTRACE, unix.PTRACE_TRACEME) }},
	}
	for _, p := range probes {
		fmt.Printf("%s=%s\n", p.name, p.run())
	}
}

func errnoString(e unix.Errno) string {
	if e == 0 {
		return "ok"
	}
	return unix.ErrnoName(e)
}

// runInRunc materializes spec with args and runs it with the runc on PATH
// (Debian's runc package), the way the runtime package will run it.
func runInRunc(t *testing.T, spec *Spec, args ...string) (*Bundle, string) {
	t.Helper()
	requireOverlay(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal("runc is not installed: `make deps-test` installs it")
	}
	_, b := materialize(t, spec, args...)
	out, err := exec.Command(runc, "--root", t.TempDir(), "run", "--bundle", b.Dir, b.ID).CombinedOutput()
	t.Logf("runc output:\n%s", out)
	if err != nil {
		t.Fatalf("runc run: %v", err)
	}
	return b, string(out)
}

func TestRuncSeccompRefuses(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "probe")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	_, out := runInRunc(t, &Spec{ReadPaths: []string{dir}, Env: map[string]string{probeEnv: "1"}}, bin)
	want := map[string]string{
		"exec": "ok", "clone-newuser": "EPERM", "clone-newnet": "EPERM", "clone3": "ENOSYS",
		"unshare": "EPERM", "setns": "EPERM", "mount": "EPERM", "io_uring_setup": "EPERM",
		"perf_event_open": "EPERM", "bpf": "EPERM", "keyctl": "EPERM",
		"personality-query": "ok", "personality-other": "EPERM", "ptrace": "EPERM",
	}
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
}

func TestRuncRunsBundle(t *testing.T) {
	name := fmt.Sprintf("agentd-runc-test-%d", os.Getpid())
	t.Cleanup(func() { _ = os.Remove(filepath.Join("/usr", name)) })
	script := strings.Join([]string{
		"echo hi > /usr/" + name,
		"echo root: $(ls -A /)",
		"echo home: $(ls -A /root)",
		"grep CapEff /proc/self/status",
		"mount -t tmpfs none /tmp 2>/dev/null && echo mount: allowed || echo mount: denied",
		"unshare -U true 2>/dev/null && echo unshare: allowed || echo unshare: denied",
		"echo interrupts: $(wc -c < /proc/interrupts)",
		"echo h 2>/dev/null > /proc/sysrq-trigger && echo sysrq: allowed || echo sysrq: denied",
		"awk 'BEGIN{print \"awk: ok\"}'",
		"echo hostname: $(hostname) user: $(id -u) cwd: $(pwd)",
	}, "; ")
	b, out := runInRunc(t, &Spec{Workdir: "/work"}, "/bin/sh", "-c", script)
	for _, want := range []string{
		"CapEff:\t00000000200405fb", "mount: denied", "unshare: denied", "interrupts: 0",
		"sysrq: denied", "awk: ok", "hostname: sandbox user: 0 cwd: /work", "home:\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	root := ""
	for _, line := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(line, "root: "); ok {
			root = " " + r + " "
		}
	}
	for _, hidden := range []string{" home ", " var ", " run ", " boot ", " srv "} {
		if strings.Contains(root, hidden) {
			t.Errorf("the sandbox's / lists%q: %s", hidden, root)
		}
	}
	if _, err := os.Stat(filepath.Join("/usr", name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the sandbox's write to /usr reached the host (err %v)", err)
	}
	if got, _ := os.ReadFile(filepath.Join(b.Upper, "usr", name)); string(got) != "hi\n" {
		t.Errorf("upper/usr/%s = %q, want the sandbox's write", name, got)
	}
}
