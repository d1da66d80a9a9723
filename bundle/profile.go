package bundle

import (
	"maps"
	"slices"
)

// Profile names.
const (
	ProfileMinimal  = "minimal"
	ProfileStandard = "standard"
	ProfileFull     = "full"
)

// Defaults that do not depend on the profile.
const (
	DefaultProfile  = ProfileStandard
	DefaultBackend  = BackendContainer
	DefaultNetwork  = NetworkNone
	DefaultHostname = "sandbox"
	DefaultWorkdir  = "/"
)

const mib = 1 << 20

// MinMemoryBytes is the smallest memory limit a Spec may ask for; below it
// even a shell is killed by the OOM killer before it prints anything.
const MinMemoryBytes = 4 * mib

// Profile is a named set of defaults: the capabilities a container sandbox
// keeps and the limits used when the Spec leaves them at zero.
type Profile struct {
	Name string
	// Capabilities are the capabilities kept in the bounding, effective and
	// permitted sets, with the CAP_ prefix. Every other one is dropped.
	Capabilities []string
	Limits       Limits
}

// standardCaps is Docker's default set minus MKNOD, NET_RAW and SETFCAP:
// device nodes, raw packets and file capabilities are what a coding agent
// never needs and what container escapes most often start from.
var standardCaps = []string{
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETGID",
	"CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}

// profiles maps a name to its Profile. It is never modified.
var profiles = map[string]Profile{
	ProfileMinimal: {
		Name:         ProfileMinimal,
		Capabilities: nil,
		Limits:       Limits{MemoryBytes: 256 * mib, Cpus: 1, Pids: 128, TimeoutMs: 5 * 60 * 1000},
	},
	ProfileStandard: {
		Name:         ProfileStandard,
		Capabilities: standardCaps,
		Limits:       Limits{MemoryBytes: 1024 * mib, Cpus: 2, Pids: 512, TimeoutMs: 10 * 60 * 1000},
	},
	ProfileFull: {
		Name: ProfileFull,
		// Docker's default capability set.
		Capabilities: append(slices.Clone(standardCaps), "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETFCAP"),
		Limits:       Limits{MemoryBytes: 4096 * mib, Cpus: 4, Pids: 4096, TimeoutMs: 60 * 60 * 1000},
	},
}

// LookupProfile returns the named profile; ok is false for an unknown name.
// The returned Profile is a copy the caller may modify.
func LookupProfile(name string) (p Profile, ok bool) {
	p, ok = profiles[name]
	p.Capabilities = slices.Clone(p.Capabilities)
	return p, ok
}

// ProfileNames lists the known profiles, sorted.
func ProfileNames() []string {
	return slices.Sorted(maps.Keys(profiles))
}

// WithDefaults returns a deep copy of s with every empty field set to its
// default: profile "standard", backend "container", network "none", hostname
// "sandbox", workdir "/", and zero limits taken from the profile. An unknown
// profile is kept as it is (and its limits stay zero) so that [Spec.Validate]
// can name it. s itself is not modified.
func (s *Spec) WithDefaults() *Spec {
	c := s.clone()
	if c.Profile == "" {
		c.Profile = DefaultProfile
	}
	if c.Backend == "" {
		c.Backend = DefaultBackend
	}
	if c.Network.Mode == "" {
		c.Network.Mode = DefaultNetwork
	}
	if c.Hostname == "" {
		c.Hostname = DefaultHostname
	}
	if c.Workdir == "" {
		c.Workdir = DefaultWorkdir
	}
	if p, ok := profiles[c.Profile]; ok {
		c.Limits = c.Limits.withDefaults(p.Limits)
	}
	return c
}

func (l Limits) withDefaults(d Limits) Limits {
	if l.MemoryBytes == 0 {
		l.MemoryBytes = d.MemoryBytes
	}
	if l.Cpus == 0 {
		l.Cpus = d.Cpus
	}
	if l.Pids == 0 {
		l.Pids = d.Pids
	}
	if l.TimeoutMs == 0 {
		l.TimeoutMs = d.TimeoutMs
	}
	return l
}

// clone returns a deep copy of s; a nil s gives an empty Spec.
func (s *Spec) clone() *Spec {
	if s == nil {
		return &Spec{}
	}
	c := *s
	if s.Base != nil {
		b := *s.Base
		c.Base = &b
	}
	if s.User != nil {
		u := *s.User
		c.User = &u
	}
	c.Mounts = slices.Clone(s.Mounts)
	c.ReadPaths = slices.Clone(s.ReadPaths)
	c.WritePaths = slices.Clone(s.WritePaths)
	c.Env = maps.Clone(s.Env)
	return &c
}
