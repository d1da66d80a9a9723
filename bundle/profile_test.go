package bundle

import (
	"reflect"
	"slices"
	"testing"
)

func TestWithDefaults(t *testing.T) {
	std := profiles[ProfileStandard].Limits
	tests := []struct {
		name string
		in   *Spec
		want *Spec
	}{
		{"empty", &Spec{}, &Spec{Backend: "container", Profile: "standard", Network: Network{Mode: "none"},
			Hostname: "sandbox", Workdir: "/", Limits: std}},
		{"nil", nil, &Spec{Backend: "container", Profile: "standard", Network: Network{Mode: "none"},
			Hostname: "sandbox", Workdir: "/", Limits: std}},
		{"minimal profile limits", &Spec{Profile: "minimal"}, &Spec{Backend: "container", Profile: "minimal",
			Network: Network{Mode: "none"}, Hostname: "sandbox", Workdir: "/", Limits: profiles[ProfileMinimal].Limits}},
		{"explicit values kept", &Spec{Backend: "native", Profile: "full", Network: Network{Mode: "host"},
			Hostname: "h", Workdir: "/w", Limits: Limits{MemoryBytes: 8 * mib, Pids: 3}},
			&Spec{Backend: "native", Profile: "full", Network: Network{Mode: "host"}, Hostname: "h", Workdir: "/w",
				Limits: Limits{MemoryBytes: 8 * mib, Cpus: profiles[ProfileFull].Limits.Cpus, Pids: 3,
					TimeoutMs: profiles[ProfileFull].Limits.TimeoutMs}}},
		{"unknown profile keeps zero limits", &Spec{Profile: "nope"}, &Spec{Backend: "container", Profile: "nope",
			Network: Network{Mode: "none"}, Hostname: "sandbox", Workdir: "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.WithDefaults(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("WithDefaults() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestWithDefaultsDoesNotAlias(t *testing.T) {
	in := &Spec{Base: &Base{Rootfs: "/r"}, User: &User{UID: 1}, Mounts: []Mount{{Source: "/a", Target: "/b"}},
		ReadPaths: []string{"/r"}, WritePaths: []string{"/w"}, Env: map[string]string{"A": "1"}}
	out := in.WithDefaults()
	out.Base.Rootfs, out.User.UID, out.Mounts[0].Target = "/x", 2, "/x"
	out.ReadPaths[0], out.WritePaths[0], out.Env["A"] = "/x", "/x", "2"
	if in.Base.Rootfs != "/r" || in.User.UID != 1 || in.Mounts[0].Target != "/b" ||
		in.ReadPaths[0] != "/r" || in.WritePaths[0] != "/w" || in.Env["A"] != "1" || in.Profile != "" {
		t.Errorf("WithDefaults modified its receiver: %+v", in)
	}
}

func TestProfiles(t *testing.T) {
	if got := ProfileNames(); !slices.Equal(got, []string{"full", "minimal", "standard"}) {
		t.Errorf("ProfileNames() = %v", got)
	}
	minimal, _ := LookupProfile(ProfileMinimal)
	standard, _ := LookupProfile(ProfileStandard)
	full, _ := LookupProfile(ProfileFull)
	if len(minimal.Capabilities) != 0 {
		t.Errorf("minimal keeps %v, want no capability", minimal.Capabilities)
	}
	for _, c := range []string{"CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_MKNOD", "CAP_SETFCAP", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_NET_ADMIN", "CAP_DAC_READ_SEARCH"} {
		if slices.Contains(standard.Capabilities, c) {
			t.Errorf("standard keeps dangerous %s", c)
		}
	}
	docker := []string{"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
		"CAP_SETUID", "CAP_SYS_CHROOT"}
	if got := slices.Sorted(slices.Values(full.Capabilities)); !slices.Equal(got, docker) {
		t.Errorf("full = %v, want Docker's default set %v", got, docker)
	}
	for _, c := range standard.Capabilities {
		if !slices.Contains(full.Capabilities, c) {
			t.Errorf("standard keeps %s, which full drops", c)
		}
	}
	if !(minimal.Limits.MemoryBytes < standard.Limits.MemoryBytes && standard.Limits.MemoryBytes < full.Limits.MemoryBytes) {
		t.Errorf("memory defaults do not grow minimal < standard < full")
	}
	// LookupProfile returns a copy.
	standard.Capabilities[0] = "CAP_SYS_ADMIN"
	if again, _ := LookupProfile(ProfileStandard); again.Capabilities[0] == "CAP_SYS_ADMIN" {
		t.Error("LookupProfile returned the package's own slice")
	}
	if _, ok := LookupProfile("nope"); ok {
		t.Error("LookupProfile(nope) ok")
	}
}
