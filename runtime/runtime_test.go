package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "A1", "c_1.x-y", strings.Repeat("a", 128)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", "../x", "a/b", ".hidden", "-x", "a b", "a\x00", strings.Repeat("a", 129), ".."} {
		if err := ValidateID(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) = %v, want ErrInvalidID", id, err)
		}
	}
}

func TestParseSignal(t *testing.T) {
	good := map[string]unix.Signal{"9": unix.SIGKILL, "KILL": unix.SIGKILL, "sigterm": unix.SIGTERM, "SIGHUP": unix.SIGHUP, "usr1": unix.SIGUSR1}
	for in, want := range good {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "NOPE", "0", "-1", "65", "SIG"} {
		if _, err := ParseSignal(in); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ParseSignal(%q) = %v, want ErrInvalidArgument", in, err)
		}
	}
}

func TestParseConfigNamesTheField(t *testing.T) {
	cases := []struct{ json, want string }{
		{`{`, "malformed JSON at line 1"},
		{"{\n\"ociVersion\": \"1.0.0\",\n}", "line 3"},
		{`{"ociVersion": 1}`, "field ociVersion"},
		{`{"ociVersion":"1.0.0","process":{"args":"sh"}}`, "field process.args"},
		{`{"ociVersion":"1.0.0","process":{"user":{"uid":"root"}}}`, "field process.user.uid"},
		{`{"root":{"path":"rootfs"}}`, "ociVersion is missing"},
		{`{"ociVersion":"1.0.0","linux":{}}`, "root.path is missing"},
		{`{"ociVersion":"1.0.0","root":{"path":"r"}}`, "field linux is missing"},
		{`{"ociVersion":"1.0.0","root":{"path":"r"},"linux":{}}`, "field process is missing"},
		{`{"ociVersion":"1.0.0","root":{"path":"r"},"linux":{},"process":{"cwd":"/"}}`, "process.args is empty"},
		{`{"ociVersion":"1.0.0","root":{"path":"r"},"linux":{},"process":{"args":["sh"]}}`, "process.cwd is missing"},
		{`{"ociVersion":"1.0.0","root":{"path":"r"},"linux":{},"process":{"args":["sh"],"cwd":"x"}}`, "process.cwd \"x\" is not absolute"},
		{`{"ociVersion":"1.0.0","root":{"path":"r"},"linux":{},"process":{"args":["sh"],"cwd":"/","env":["NOEQUALS"]}}`, "process.env[0]"},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.json))
		if !errors.Is(err, ErrInvalidBundle) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseConfig(%s) = %v, want ErrInvalidBundle containing %q", c.json, err, c.want)
		}
	}
	ok := `{"ociVersion":"1.0.0","root":{"path":"r"},"linux":{},"process":{"args":["sh"],"cwd":"/"}}`
	if _, err := ParseConfig([]byte(ok)); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

func TestLoadBundle(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadBundle(filepath.Join(dir, "missing")); !errors.Is(err, ErrInvalidBundle) {
		t.Errorf("missing bundle: %v", err)
	}
	if _, _, err := LoadBundle(dir); err == nil || !strings.Contains(err.Error(), "config.json not found") {
		t.Errorf("no config.json: %v", err)
	}
	cfg := `{"ociVersion":"1.0.0","root":{"path":"rootfs"},"linux":{},"process":{"args":["sh"],"cwd":"/"}}`
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
	if _, _, err := LoadBundle(dir); err == nil || !strings.Contains(err.Error(), "root.path") {
		t.Errorf("missing rootfs: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "rootfs"), 0o755)
	spec, abs, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if abs != dir || spec.Root.Path != filepath.Join(dir, "rootfs") {
		t.Errorf("bundle %s, root %s; want %s and its rootfs", abs, spec.Root.Path, dir)
	}
}

func TestWritePidFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.pid")
	if err := writePidFile(path, 1234); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "1234" {
		t.Errorf("pid file holds %q", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left beside the pid file: %v", entries)
	}
	if err := writePidFile(filepath.Join(dir, "no/such/dir/x.pid"), 1); err == nil {
		t.Error("pid file in a missing directory: no error")
	}
}

func TestApplyResources(t *testing.T) {
	mem, swap, quota, pids := int64(64<<20), int64(-1), int64(50000), int64(10)
	period, shares := uint64(100000), uint64(512)
	dst := &cgroups.Resources{Memory: 1, CpuShares: 2}
	applyResources(dst, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &mem, Swap: &swap},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period, Shares: &shares, Cpus: "0"},
		Pids:   &specs.LinuxPids{Limit: &pids},
	})
	if dst.Memory != mem || dst.MemorySwap != -1 || dst.CpuQuota != quota || dst.CpuPeriod != period ||
		dst.CpuShares != shares || dst.CpuWeight != cgroups.ConvertCPUSharesToCgroupV2Value(shares) || dst.CpusetCpus != "0" || dst.PidsLimit == nil || *dst.PidsLimit != pids {
		t.Errorf("applyResources = %+v", dst)
	}
	kept := &cgroups.Resources{Memory: 7}
	applyResources(kept, &specs.LinuxResources{})
	if kept.Memory != 7 {
		t.Errorf("an empty update changed the memory limit to %d", kept.Memory)
	}
}

func TestNewRefusesWhatTheHostCannotDo(t *testing.T) {
	if _, err := New(t.TempDir(), Options{Rootless: "maybe"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("--rootless maybe: %v", err)
	}
	_, err := New(t.TempDir(), Options{SystemdCgroup: true})
	if _, statErr := os.Stat("/run/systemd/system"); statErr == nil {
		if err != nil {
			t.Errorf("--systemd-cgroup on a host that runs systemd: %v", err)
		}
	} else if !errors.Is(err, ErrUnsupported) {
		t.Errorf("--systemd-cgroup without systemd: %v", err)
	}
}

// The received file is close-on-exec, and named after its message.
func TestRecvFdCloseOnExec(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer a.Close()
	defer b.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if err := unix.Sendmsg(fds[0], []byte("master"), unix.UnixRights(int(null.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	f, err := RecvFd(b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.FD_CLOEXEC == 0 || f.Name() != "master" {
		t.Errorf("received %q with fd flags %#x, want \"master\" and FD_CLOEXEC", f.Name(), flags)
	}
}
