package bundle

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/validate"
)

func envOf(c *specs.Spec) map[string]string {
	m := map[string]string{}
	for _, kv := range c.Process.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func mountAt(c *specs.Spec, dest string) *specs.Mount {
	for i := range c.Mounts {
		if c.Mounts[i].Destination == dest {
			return &c.Mounts[i]
		}
	}
	return nil
}

func hasNamespace(c *specs.Spec, typ specs.LinuxNamespaceType) bool {
	return slices.ContainsFunc(c.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == typ })
}

func wantBind(t *testing.T, c *specs.Spec, src, dest, mode string) {
	t.Helper()
	m := mountAt(c, dest)
	if m == nil {
		t.Fatalf("no mount at %s in %+v", dest, c.Mounts)
	}
	if m.Type != "bind" || m.Source != src || !slices.Contains(m.Options, "rbind") || !slices.Contains(m.Options, mode) {
		t.Errorf("mount at %s = %+v, want an rbind of %s, %s", dest, m, src, mode)
	}
}

func TestOCI(t *testing.T) {
	t.Setenv("AGENTD_HOST_SECRET", "leak")
	tests := []struct {
		name  string
		spec  Spec
		opts  TranslateOptions
		check func(t *testing.T, c *specs.Spec)
	}{
		{"defaults", Spec{}, TranslateOptions{}, checkDefaultConfig},
		{"minimal profile", Spec{Profile: ProfileMinimal}, TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
			if c.Process.Capabilities == nil {
				t.Fatal("capabilities section missing: runc would keep every capability")
			}
			wantCaps(t, c, nil)
			wantLimits(t, c, profiles[ProfileMinimal].Limits)
		}},
		{"full profile", Spec{Profile: ProfileFull}, TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
			wantCaps(t, c, profiles[ProfileFull].Capabilities)
		}},
		{"host network", Spec{Network: Network{Mode: NetworkHost}}, TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
			if hasNamespace(c, specs.NetworkNamespace) || !hasNamespace(c, specs.UTSNamespace) {
				t.Errorf("namespaces %v, want the host's network and an own UTS", c.Linux.Namespaces)
			}
		}},
		{"workdir", Spec{Workdir: "/src/./app/"}, TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
			if c.Process.Cwd != "/src/app" {
				t.Errorf("cwd %q", c.Process.Cwd)
			}
		}},
		{"user", Spec{User: &User{UID: 1000, GID: 100}}, TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
			if u := c.Process.User; u.UID != 1000 || u.GID != 100 || envOf(c)["HOME"] != "/tmp" {
				t.Errorf("user %+v HOME %q", u, envOf(c)["HOME"])
			}
		}},
		{"env", Spec{Env: map[string]string{"HOME": "/h", "FOO": "a=b", "LANG": "en_US.UTF-8"}}, TranslateOptions{},
			func(t *testing.T, c *specs.Spec) {
				env := envOf(c)
				if env["HOME"] != "/h" || env["FOO"] != "a=b" || env["LANG"] != "en_US.UTF-8" || env["TERM"] != "xterm" {
					t.Errorf("env %v", c.Process.Env)
				}
				if !slices.IsSorted(c.Process.Env) {
					t.Errorf("env not sorted: %v", c.Process.Env)
				}
			}},
		{"readPaths", Spec{ReadPaths: []string{"/data/"}}, TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
			wantBind(t, c, "/data", "/data", "ro")
		}},
		{"writePaths", Spec{WritePaths: []string{"/home/me/project"}}, TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
			wantBind(t, c, "/home/me/project", "/home/me/project", "rw")
		}},
		{"mounts", Spec{Mounts: []Mount{{Source: "/host/src", Target: "/src", Readonly: true}, {Source: "/host/out", Target: "/out"}}},
			TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
				wantBind(t, c, "/host/src", "/src", "ro")
				wantBind(t, c, "/host/out", "/out", "rw")
				if m := mountAt(c, "/src"); !slices.Contains(m.Options, "nosuid") || !slices.Contains(m.Options, "nodev") {
					t.Errorf("user mount options %v lack nosuid, nodev", m.Options)
				}
			}},
		{"nested mounts parents first", Spec{ReadPaths: []string{"/a/b/c"}, WritePaths: []string{"/a"}, Mounts: []Mount{{Source: "/x", Target: "/a/b"}}},
			TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
				var got []string
				for _, m := range c.Mounts[len(defaultMounts()):] {
					got = append(got, m.Destination)
				}
				if !slices.Equal(got, []string{"/a", "/a/b", "/a/b/c"}) {
					t.Errorf("user mounts in order %v", got)
				}
			}},
		{"limits", Spec{Limits: Limits{MemoryBytes: 512 * mib, Cpus: 1.5, Pids: 64}}, TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
			wantLimits(t, c, Limits{MemoryBytes: 512 * mib, Cpus: 1.5, Pids: 64})
		}},
		{"hostname", Spec{Hostname: "box"}, TranslateOptions{}, func(t *testing.T, c *specs.Spec) {
			if c.Hostname != "box" {
				t.Errorf("hostname %q", c.Hostname)
			}
		}},
		{"options", Spec{}, TranslateOptions{Args: []string{"python3", "-c", "print(1)"}, Terminal: true},
			func(t *testing.T, c *specs.Spec) {
				if !slices.Equal(c.Process.Args, []string{"python3", "-c", "print(1)"}) || !c.Process.Terminal {
					t.Errorf("args %q terminal %v", c.Process.Args, c.Process.Terminal)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Args == nil {
				tt.opts.Args = []string{"sh"}
			}
			c, err := tt.spec.OCI(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.Version != specs.Version {
				t.Errorf("ociVersion %q", c.Version)
			}
			if slices.ContainsFunc(c.Process.Env, func(kv string) bool { return strings.Contains(kv, "AGENTD_HOST_SECRET") }) {
				t.Error("the host's environment leaked into the sandbox")
			}
			tt.check(t, c)
			checkRuntimeTools(t, c, emptyBundle(t))
		})
	}
}

// checkDefaultConfig asserts what a Spec with every default translates to.
func checkDefaultConfig(t *testing.T, c *specs.Spec) {
	t.Helper()
	p := c.Process
	if c.Root.Path != "rootfs" || c.Root.Readonly || c.Hostname != "sandbox" || p.Cwd != "/" || !p.NoNewPrivileges {
		t.Errorf("root %+v hostname %q cwd %q noNewPrivileges %v", c.Root, c.Hostname, p.Cwd, p.NoNewPrivileges)
	}
	if p.User.UID != 0 || p.User.GID != 0 || p.User.Umask == nil || *p.User.Umask != 0o022 {
		t.Errorf("user %+v, want root with umask 022", p.User)
	}
	env := envOf(c)
	want := map[string]string{"PATH": defaultEnv["PATH"], "HOME": "/root", "LANG": "C.UTF-8", "TERM": "xterm"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %v, want %v (and never the host's)", env, want)
	}
	for _, ns := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.PIDNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.CgroupNamespace, specs.NetworkNamespace} {
		if !hasNamespace(c, ns) {
			t.Errorf("no %s namespace", ns)
		}
	}
	if hasNamespace(c, specs.UserNamespace) {
		t.Error("user namespace requested")
	}
	for _, dest := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"} {
		if mountAt(c, dest) == nil {
			t.Errorf("no default mount at %s", dest)
		}
	}
	for _, dest := range []string{"/sys", "/sys/fs/cgroup"} {
		if m := mountAt(c, dest); m != nil && !slices.Contains(m.Options, "ro") {
			t.Errorf("%s is not read-only: %v", dest, m.Options)
		}
	}
	if !slices.Contains(c.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(c.Linux.ReadonlyPaths, "/proc/sys") {
		t.Errorf("masked %v readonly %v", c.Linux.MaskedPaths, c.Linux.ReadonlyPaths)
	}
	if !slices.Contains(p.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}) {
		t.Errorf("rlimits %v lack NOFILE 1024/1024", p.Rlimits)
	}
	if c.Linux.Seccomp == nil || c.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Errorf("seccomp %+v, want the default profile", c.Linux.Seccomp)
	}
	wantCaps(t, c, standardCaps)
	wantLimits(t, c, profiles[ProfileStandard].Limits)
}

func wantCaps(t *testing.T, c *specs.Spec, want []string) {
	t.Helper()
	caps := c.Process.Capabilities
	for name, set := range map[string][]string{"bounding": caps.Bounding, "effective": caps.Effective, "permitted": caps.Permitted} {
		if !slices.Equal(set, want) {
			t.Errorf("%s = %v, want %v", name, set, want)
		}
	}
	if len(caps.Ambient) > 0 || len(caps.Inheritable) > 0 {
		t.Errorf("ambient %v inheritable %v, want none", caps.Ambient, caps.Inheritable)
	}
}

func wantLimits(t *testing.T, c *specs.Spec, l Limits) {
	t.Helper()
	r := c.Linux.Resources
	if *r.Memory.Limit != l.MemoryBytes || *r.Pids.Limit != l.Pids {
		t.Errorf("memory %d pids %d, want %d %d", *r.Memory.Limit, *r.Pids.Limit, l.MemoryBytes, l.Pids)
	}
	if want := int64(l.Cpus * 100000); *r.CPU.Period != 100000 || *r.CPU.Quota != want {
		t.Errorf("cpu quota %d period %d, want %d 100000", *r.CPU.Quota, *r.CPU.Period, want)
	}
}

func TestOCIRootfsOption(t *testing.T) {
	dir := emptyBundle(t)
	c, err := (&Spec{}).OCI(TranslateOptions{Args: []string{"sh"}, Rootfs: dir + "/rootfs"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Root.Path != dir+"/rootfs" {
		t.Errorf("root.path %q", c.Root.Path)
	}
	checkRuntimeTools(t, c, dir)
}

func TestOCIRefuses(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		args []string
		want string
	}{
		{"invalid spec", Spec{Workdir: "rel"}, []string{"sh"}, "workdir: "},
		{"native backend", Spec{Backend: BackendNative}, []string{"sh"}, "backend: "},
		{"no command", Spec{}, nil, "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.spec.OCI(TranslateOptions{Args: tt.args})
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OCI() error %v, want ErrInvalidSpec with %q", err, tt.want)
			}
		})
	}
}

func TestOCIIsPure(t *testing.T) {
	s := &Spec{ReadPaths: []string{"/d"}, Env: map[string]string{"A": "1"}}
	before := *s.clone()
	a, err := s.OCI(TranslateOptions{Args: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.OCI(TranslateOptions{Args: []string{"sh"}})
	if !reflect.DeepEqual(a, b) {
		t.Error("two translations of one spec differ")
	}
	if !reflect.DeepEqual(*s, before) {
		t.Errorf("OCI modified the spec: %+v", s)
	}
	a.Linux.Seccomp.Syscalls[0].Names[0] = "mount"
	a.Process.Capabilities.Bounding = append(a.Process.Capabilities.Bounding[:0], "CAP_SYS_ADMIN")
	if c, _ := s.OCI(TranslateOptions{Args: []string{"sh"}}); !reflect.DeepEqual(b, c) {
		t.Error("changing one translation changed the next: shared slices")
	}
}

// TestRuntimeToolsIsLive makes sure the validator used above does check,
// including the JSON schema served from the module cache.
func TestRuntimeToolsIsLive(t *testing.T) {
	useLocalSchema(t)
	c, err := (&Spec{}).OCI(TranslateOptions{Args: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Linux.Seccomp.DefaultAction = "SCMP_ACT_BOGUS"
	v, err := validate.NewValidator(c, emptyBundle(t), true, "linux")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckJSONSchema(); err == nil || !strings.Contains(err.Error(), "defaultAction") {
		t.Errorf("schema check of a bogus seccomp action: %v", err)
	}
}
