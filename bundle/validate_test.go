package bundle

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; empty means success
	}{
		{"full document", `{"backend":"container","profile":"minimal","base":{"rootfs":"/r"},
			"workdir":"/w","mounts":[{"source":"/s","target":"/t","readonly":true}],
			"readPaths":["/d"],"writePaths":["/p"],"network":{"mode":"host"},
			"limits":{"memoryBytes":536870912,"cpus":1.5,"pids":256,"timeoutMs":600000},
			"env":{"A":"b"},"user":{"uid":1000,"gid":1000},"hostname":"h","bestEffort":true}`, ""},
		{"empty object", `{}`, ""},
		{"trailing whitespace", "{}\n\t ", ""},
		{"unknown field", `{"mount":[]}`, `unknown field "mount"`},
		{"unknown nested field", `{"limits":{"memory":1}}`, `unknown field "memory"`},
		{"trailing object", `{}{}`, "trailing data"},
		{"trailing garbage", `{} x`, "trailing data"},
		{"wrong type", `{"limits":{"pids":"many"}}`, "cannot unmarshal"},
		{"empty input", ``, "empty document"},
		{"truncated", `{"profile":`, "decoding JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Decode(strings.NewReader(tt.in))
			if tt.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Decode error %v, want ErrInvalidSpec containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	s, err := Decode(strings.NewReader(`{"mounts":[{"source":"/s","target":"/t","readonly":true}],"limits":{"cpus":1.5},"user":{"uid":7,"gid":8}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Mounts[0]; got != (Mount{Source: "/s", Target: "/t", Readonly: true}) {
		t.Errorf("mounts[0] = %+v", got)
	}
	if s.Limits.Cpus != 1.5 || s.User.UID != 7 || s.User.GID != 8 {
		t.Errorf("limits %+v user %+v", s.Limits, s.User)
	}
}

func TestValidateAcceptsGoodSpecs(t *testing.T) {
	for name, s := range map[string]*Spec{
		"empty":    {},
		"defaults": (&Spec{}).WithDefaults(),
		"everything": {Backend: BackendContainer, Profile: ProfileFull, Base: &Base{Rootfs: "/srv/rootfs"},
			Workdir: "/src", Mounts: []Mount{{Source: "/home/me/src", Target: "/src"}},
			ReadPaths: []string{"/data"}, WritePaths: []string{"/home/me/out"},
			Network: Network{Mode: NetworkHost}, Limits: Limits{MemoryBytes: MinMemoryBytes, Cpus: 0.5, Pids: 1, TimeoutMs: 1},
			Env: map[string]string{"LANG": "C", "EMPTY": ""}, User: &User{UID: 1000, GID: 1000}, Hostname: "my-box.local"},
		"native":            {Backend: BackendNative, Network: Network{Mode: NetworkNone}},
		"nested targets":    {WritePaths: []string{"/a"}, ReadPaths: []string{"/a/b"}},
		"mount source root": {Mounts: []Mount{{Source: "/", Target: "/host"}}},
	} {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name  string
		spec  Spec
		field string // the field the error must name
		hint  string // part of the message
	}{
		{"unknown profile", Spec{Profile: "strict"}, "profile", `use one of "full", "minimal", "standard"`},
		{"unknown backend", Spec{Backend: "vm"}, "backend", `use "container" or "native"`},
		{"unknown network", Spec{Network: Network{Mode: "bridge"}}, "network.mode", `"bridge" is unknown`},
		{"relative base", Spec{Base: &Base{Rootfs: "rootfs"}}, "base.rootfs", "use an absolute path such as /rootfs"},
		{"empty base", Spec{Base: &Base{}}, "base.rootfs", "is empty"},
		{"host root as base", Spec{Base: &Base{Rootfs: "/"}}, "base.rootfs", "omit base"},
		{"colon in base", Spec{Base: &Base{Rootfs: "/a:b"}}, "base.rootfs", "overlayfs"},
		{"relative workdir", Spec{Workdir: "src"}, "workdir", `"src" is relative; use an absolute path such as /src`},
		{"relative readPath", Spec{ReadPaths: []string{"data"}}, "readPaths[0]", "is relative"},
		{"relative writePath", Spec{WritePaths: []string{"/ok", "./out"}}, "writePaths[1]", "such as /out"},
		{"relative mount source", Spec{Mounts: []Mount{{Source: "src", Target: "/src"}}}, "mounts[0].source", "is relative"},
		{"relative mount target", Spec{Mounts: []Mount{{Source: "/a", Target: "/a"}, {Source: "/s", Target: "src"}}},
			"mounts[1].target", `"src" is relative; use an absolute path such as /src`},
		{"empty mount target", Spec{Mounts: []Mount{{Source: "/s"}}}, "mounts[0].target", "is empty"},
		{"NUL in path", Spec{ReadPaths: []string{"/a\x00b"}}, "readPaths[0]", "NUL"},
		{"target is /proc", Spec{Mounts: []Mount{{Source: "/s", Target: "/proc"}}}, "mounts[0].target", "inside /proc"},
		{"target inside /proc", Spec{Mounts: []Mount{{Source: "/s", Target: "/proc/sys/kernel"}}}, "mounts[0].target", "inside /proc"},
		{"target inside /sys", Spec{WritePaths: []string{"/sys/fs/cgroup"}}, "writePaths[0]", "inside /sys"},
		{"target inside /dev", Spec{ReadPaths: []string{"/dev/sda"}}, "readPaths[0]", "inside /dev"},
		{"unclean target in /proc", Spec{ReadPaths: []string{"/tmp/../proc/1"}}, "readPaths[0]", "inside /proc"},
		{"target is /", Spec{Mounts: []Mount{{Source: "/s", Target: "/"}}}, "mounts[0].target", "whole file system"},
		{"duplicate mounts", Spec{Mounts: []Mount{{Source: "/a", Target: "/t"}, {Source: "/b", Target: "/t/"}}},
			"mounts[1].target", "already mounted by mounts[0].target"},
		{"readPath and writePath", Spec{ReadPaths: []string{"/data"}, WritePaths: []string{"/data"}},
			"writePaths[0]", "already mounted by readPaths[0]"},
		{"writePath and mount", Spec{WritePaths: []string{"/src"}, Mounts: []Mount{{Source: "/x", Target: "/src"}}},
			"mounts[0].target", "already mounted by writePaths[0]"},
		{"duplicate readPaths", Spec{ReadPaths: []string{"/d", "/d"}}, "readPaths[1]", "already mounted by readPaths[0]"},
		{"memory too small", Spec{Limits: Limits{MemoryBytes: MinMemoryBytes - 1}}, "limits.memoryBytes", "below the minimum of 4 MiB"},
		{"memory negative", Spec{Limits: Limits{MemoryBytes: -1}}, "limits.memoryBytes", "negative"},
		{"cpus negative", Spec{Limits: Limits{Cpus: -0.5}}, "limits.cpus", "negative"},
		{"cpus NaN", Spec{Limits: Limits{Cpus: math.NaN()}}, "limits.cpus", "not a number"},
		{"cpus tiny", Spec{Limits: Limits{Cpus: 0.001}}, "limits.cpus", "below the minimum"},
		{"pids negative", Spec{Limits: Limits{Pids: -1}}, "limits.pids", "negative"},
		{"timeout negative", Spec{Limits: Limits{TimeoutMs: -5}}, "limits.timeoutMs", "negative"},
		{"env empty key", Spec{Env: map[string]string{"": "x"}}, `env[""]`, "name is empty"},
		{"env key with =", Spec{Env: map[string]string{"A=B": "c"}}, `env["A=B"]`, `{"A": "B"}`},
		{"env NUL", Spec{Env: map[string]string{"A": "b\x00c"}}, `env["A"]`, "NUL"},
		{"hostname", Spec{Hostname: "bad_host!"}, "hostname", "not a valid host name"},
		{"hostname too long", Spec{Hostname: strings.Repeat("a", 65)}, "hostname", "not a valid host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate() = %v, want an ErrInvalidSpec", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate() = %v, want it to name field %s", err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), tt.field+": ") || !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("Validate() = %q, want %q: ...%s...", err, tt.field, tt.hint)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	s := Spec{Profile: "x", Workdir: "w", Limits: Limits{Pids: -1}}
	err := s.Validate()
	for _, field := range []string{"profile: ", "workdir: ", "limits.pids: "} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("error %v does not report %s", err, field)
		}
	}
}

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "A1", "sb-1_x.y", "0", strings.Repeat("a", 128)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "-a", "_a", ".a", "a/b", "a b", "a\x00", "é", strings.Repeat("a", 129)} {
		if err := ValidateID(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) = %v, want ErrInvalidID", id, err)
		}
	}
}
