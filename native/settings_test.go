package native

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agentd/bundle"
)

func TestNormalizeDefaults(t *testing.T) {
	dir := t.TempDir()
	st, err := normalize(&bundle.Spec{WritePaths: []string{dir + "/"}, Workdir: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Network != bundle.NetworkNone || st.UID != defaultUID || st.GID != defaultGID {
		t.Errorf("network %q, user %d:%d: want none, %d:%d", st.Network, st.UID, st.GID, defaultUID, defaultGID)
	}
	if st.Memory != 1<<30 || st.Pids != 512 || st.Cpus != 2 || st.Timeout != 10*time.Minute {
		t.Errorf("limits %+v: want the standard profile's", st)
	}
	if st, err := normalize(&bundle.Spec{Profile: bundle.ProfileMinimal}); err != nil ||
		st.Memory != 256<<20 || st.Pids != 128 || st.Cpus != 1 || st.Timeout != 5*time.Minute {
		t.Errorf("minimal profile: %+v %v: want its limits", st, err)
	}
	if st.Workdir != "" || st.WritePaths[0] != dir {
		t.Errorf("workdir %q, write paths %q", st.Workdir, st.WritePaths)
	}
	st, err = normalize(&bundle.Spec{Backend: bundle.BackendNative, Network: bundle.Network{Mode: bundle.NetworkHost},
		User: &bundle.User{UID: 1000, GID: 1000}, Workdir: "src",
		Limits: bundle.Limits{MemoryBytes: 1 << 20, Cpus: 1.5, Pids: 7, TimeoutMs: 1500}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Network != bundle.NetworkHost || st.UID != 1000 || st.Workdir != "src" ||
		st.Memory != 1<<20 || st.Cpus != 1.5 || st.Pids != 7 || st.Timeout != 1500*time.Millisecond {
		t.Errorf("settings %+v do not follow the spec", st)
	}
}

func TestNormalizeRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, dir+"-link"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir + "-link") })
	tests := []struct {
		name string
		spec *bundle.Spec
		want string
	}{
		{"nil", nil, "no spec"},
		{"profile", &bundle.Spec{Profile: "huge"}, "profile"},
		{"other backend", &bundle.Spec{Backend: bundle.BackendContainer}, "backend"},
		{"base rootfs", &bundle.Spec{Base: &bundle.Base{Rootfs: dir}}, "base.rootfs"},
		{"mounts", &bundle.Spec{Mounts: []bundle.Mount{{Source: dir, Target: "/x"}}}, "mounts"},
		{"network", &bundle.Spec{Network: bundle.Network{Mode: "bridge"}}, "network.mode"},
		{"root uid", &bundle.Spec{User: &bundle.User{UID: 0, GID: 1}}, "uid 0"},
		{"root gid", &bundle.Spec{User: &bundle.User{UID: 1, GID: 0}}, "gid 0"},
		{"relative read path", &bundle.Spec{ReadPaths: []string{"data"}}, "absolute host path"},
		{"missing write path", &bundle.Spec{WritePaths: []string{dir + "/missing"}}, "no such file"},
		{"whole host writable", &bundle.Spec{WritePaths: []string{"/"}}, "whole host"},
		{"read path below a write path", &bundle.Spec{WritePaths: []string{dir}, ReadPaths: []string{dir + "/sub"}}, "at or below writePaths"},
		{"read path that is a write path", &bundle.Spec{WritePaths: []string{dir}, ReadPaths: []string{dir}}, "at or below writePaths"},
		{"write path below a write path", &bundle.Spec{WritePaths: []string{dir, dir + "/sub"}}, "at or below writePaths"},
		{"write path twice", &bundle.Spec{WritePaths: []string{dir, dir}}, "at or below writePaths"},
		{"read path below a write path, through a link", &bundle.Spec{WritePaths: []string{dir}, ReadPaths: []string{dir + "-link/sub"}}, "at or below writePaths"},
		{"write path below a link to a write path", &bundle.Spec{WritePaths: []string{dir + "-link", dir + "/sub"}}, "at or below writePaths"},
		{"absolute workdir", &bundle.Spec{Workdir: "/workspace"}, "absolute workdir"},
		{"workdir ..", &bundle.Spec{Workdir: "a/../.."}, `".."`},
		{"env", &bundle.Spec{Env: map[string]string{"A=B": "c"}}, "variable name"},
		{"negative limit", &bundle.Spec{Limits: bundle.Limits{Pids: -1}}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := normalize(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidSpec) && !errors.Is(err, ErrInvalidWorkdir) {
				t.Errorf("err = %v, want ErrInvalidSpec or ErrInvalidWorkdir", err)
			}
		})
	}
}

// fullHost is a host that enforces everything.
var fullHost = Capabilities{
	Root: true, LandlockABI: 7, LandlockLibABI: 11, SeccompKernel: true, SeccompLibrary: true,
	CgroupMode: "hybrid", CgroupVersion: 1, CgroupControllers: []string{"cpu", "cpuacct", "freezer", "memory", "pids"},
	NetNamespace: true,
}

func TestPlan(t *testing.T) {
	base := &settings{Network: bundle.NetworkNone, UID: 65534, GID: 65534, Cpus: 1}
	with := func(f func(*Capabilities)) Capabilities {
		c := fullHost
		c.CgroupControllers = append([]string(nil), fullHost.CgroupControllers...)
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		caps    Capabilities
		missing string // "" = everything enforced
	}{
		{"full", fullHost, ""},
		{"old landlock", with(func(c *Capabilities) { c.LandlockABI = 5 }), "Landlock ABI 6"},
		{"no landlock", with(func(c *Capabilities) { c.LandlockABI = 0 }), "this kernel has ABI 0"},
		{"old go-landlock", with(func(c *Capabilities) { c.LandlockLibABI = 4 }), "Landlock ABI 6"},
		{"no seccomp in kernel", with(func(c *Capabilities) { c.SeccompKernel = false }), "seccomp filter"},
		{"no libseccomp", with(func(c *Capabilities) { c.SeccompLibrary = false }), "built with libseccomp: false"},
		{"no netns", with(func(c *Capabilities) { c.NetNamespace = false }), "network namespace"},
		{"no cgroups", with(func(c *Capabilities) { c.CgroupVersion = 0 }), "cgroups"},
		{"no freezer", with(func(c *Capabilities) { c.CgroupControllers = []string{"cpu", "memory", "pids"} }), `controller "freezer"`},
		{"no cpu", with(func(c *Capabilities) { c.CgroupControllers = []string{"freezer", "memory", "pids"} }), `controller "cpu"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := plan(tc.caps, base)
			if tc.missing == "" {
				if err != nil || len(rep.Missing) > 0 || !rep.Seccomp || !rep.NetNamespace || rep.LandlockABI != 7 {
					t.Fatalf("plan = %+v, %v; want everything enforced", rep, err)
				}
				return
			}
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.missing) || !strings.Contains(err.Error(), "bestEffort") {
				t.Fatalf("err = %v, want ErrUnsupported naming %q and bestEffort", err, tc.missing)
			}
			be := *base
			be.BestEffort = true
			rep, err = plan(tc.caps, &be)
			if err != nil || !strings.Contains(strings.Join(rep.Missing, "\n"), tc.missing) {
				t.Fatalf("bestEffort: plan = %+v, %v; want %q in Missing", rep, err, tc.missing)
			}
		})
	}
}

func TestPlanNeedsRoot(t *testing.T) {
	caps := fullHost
	caps.Root = false
	if _, err := plan(caps, &settings{BestEffort: true}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("not root: err = %v, want ErrUnsupported even with bestEffort", err)
	}
}

func TestLandlockFeatures(t *testing.T) {
	if got := strings.Join(landlockFeatures(0), ","); got != "" {
		t.Errorf("ABI 0: %q", got)
	}
	if got := strings.Join(landlockFeatures(6), ","); got != "fs,refer,truncate,tcp,ioctl-dev,scope-signal,scope-abstract-unix" {
		t.Errorf("ABI 6: %q", got)
	}
	if got := landlockFeatures(11); len(got) != 9 {
		t.Errorf("ABI 11: %q", got)
	}
}

func TestCheckID(t *testing.T) {
	for _, id := range []string{"a", "sb-1", "A.b_c", strings.Repeat("x", 128)} {
		if err := checkID("sandbox", id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "-a", ".a", "a/b", "../a", "a b", strings.Repeat("x", 129)} {
		if err := checkID("sandbox", id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("%q: err = %v, want ErrInvalidID", id, err)
		}
	}
}
