package bundle

import (
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TranslateOptions are the inputs of [Spec.OCI] that are not part of the
// sandbox Spec.
type TranslateOptions struct {
	// Args is the command to run; Args[0] is looked up in the sandbox's PATH.
	Args []string
	// Rootfs is root.path in config.json; empty means "rootfs", the
	// directory beside config.json.
	Rootfs string
	// Terminal gives the process a pseudo-terminal.
	Terminal bool
}

// DefaultRootfs is the root.path of a generated config.json.
const DefaultRootfs = "rootfs"

// cpuPeriod is the CFS period in microseconds that limits.cpus scales.
const cpuPeriod uint64 = 100_000

// defaultEnv is what every command sees unless the Spec overrides it. HOME
// is chosen per user in [Spec.environ].
var defaultEnv = map[string]string{
	"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG": "C.UTF-8",
	"TERM": "xterm",
}

// maskedPaths hide kernel interfaces that leak host information or allow
// host-wide actions, as runc's and Docker's defaults do.
var maskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
	"/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
}

// readonlyPaths are kernel interfaces a sandbox may read but not change.
var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// OCI translates the Spec, with defaults applied, into an OCI runtime
// configuration for the container backend. It reads no files and depends
// only on s, opts and the architecture (for seccomp). The result always
// drops capabilities to the profile's set, sets no_new_privs, installs the
// default seccomp profile and masks the /proc and /sys paths runc masks.
func (s *Spec) OCI(opts TranslateOptions) (*specs.Spec, error) {
	d := s.WithDefaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.Backend != BackendContainer {
		return nil, &FieldError{Field: "backend", Msg: fmt.Sprintf("%q does not run from an OCI bundle; use %q", d.Backend, BackendContainer)}
	}
	if len(opts.Args) == 0 {
		return nil, fmt.Errorf("%w: no command to run; pass the command and its arguments", ErrInvalidSpec)
	}
	root := opts.Rootfs
	if root == "" {
		root = DefaultRootfs
	}
	return &specs.Spec{
		Version:  specs.Version,
		Process:  d.process(opts),
		Root:     &specs.Root{Path: root, Readonly: false},
		Hostname: d.Hostname,
		Mounts:   append(defaultMounts(), d.userMounts()...),
		Linux: &specs.Linux{
			Namespaces:    d.namespaces(),
			Resources:     d.resources(),
			Seccomp:       DefaultSeccomp(),
			MaskedPaths:   slices.Clone(maskedPaths),
			ReadonlyPaths: slices.Clone(readonlyPaths),
		},
	}, nil
}

// process builds the process section. s must have defaults applied.
func (s *Spec) process(opts TranslateOptions) *specs.Process {
	caps := profiles[s.Profile].Capabilities
	umask := uint32(0o022)
	user := specs.User{Umask: &umask}
	if s.User != nil {
		user.UID, user.GID = s.User.UID, s.User.GID
	}
	return &specs.Process{
		Terminal: opts.Terminal,
		User:     user,
		Args:     slices.Clone(opts.Args),
		Env:      s.environ(),
		Cwd:      path.Clean(s.Workdir),
		// A non-nil, possibly empty, set: runc keeps every capability
		// when the section is missing altogether.
		Capabilities: &specs.LinuxCapabilities{
			Bounding:  slices.Clone(caps),
			Effective: slices.Clone(caps),
			Permitted: slices.Clone(caps),
		},
		Rlimits: []specs.POSIXRlimit{
			// Not above the hard limit of any host: raising it needs
			// CAP_SYS_RESOURCE, which not every runtime host has.
			{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024},
			// No core dumps: they would fill the sandbox's upper layer.
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
		},
		NoNewPrivileges: true,
	}
}

// environ is the sandbox's environment: the defaults, then the Spec's env,
// sorted by name. The host's environment never enters. HOME is /root for
// root and /tmp (writable by anyone) for other users.
func (s *Spec) environ() []string {
	env := maps.Clone(defaultEnv)
	env["HOME"] = "/root"
	if s.User != nil && s.User.UID != 0 {
		env["HOME"] = "/tmp"
	}
	maps.Copy(env, s.Env)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

func (s *Spec) namespaces() []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.MountNamespace},
		{Type: specs.CgroupNamespace},
	}
	if s.Network.Mode != NetworkHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	return ns
}

func (s *Spec) resources() *specs.LinuxResources {
	mem := s.Limits.MemoryBytes
	period := cpuPeriod
	quota := int64(math.Round(s.Limits.Cpus * float64(cpuPeriod)))
	pids := s.Limits.Pids
	return &specs.LinuxResources{
		// Deny every device; runc adds the standard allow rules (null,
		// zero, full, random, urandom, tty, ptmx) itself.
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: &mem},
		CPU:     &specs.LinuxCPU{Quota: &quota, Period: &period},
		Pids:    &specs.LinuxPids{Limit: &pids},
	}
}

// defaultMounts are the kernel file systems every sandbox gets, as in
// runc's default config.json.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

// userMounts are the Spec's shared host paths as recursive bind mounts:
// readPaths and writePaths at the same path, mounts at their target. They
// are ordered parents first, so that /a/b shared inside /a stays visible.
func (s *Spec) userMounts() []specs.Mount {
	var out []specs.Mount
	bind := func(src, dst string, ro bool) {
		mode := "rw"
		if ro {
			mode = "ro"
		}
		out = append(out, specs.Mount{
			Destination: path.Clean(dst),
			Type:        "bind",
			Source:      path.Clean(src),
			Options:     []string{"rbind", "nosuid", "nodev", mode},
		})
	}
	for _, p := range s.ReadPaths {
		bind(p, p, true)
	}
	for _, p := range s.WritePaths {
		bind(p, p, false)
	}
	for _, m := range s.Mounts {
		bind(m.Source, m.Target, m.Readonly)
	}
	slices.SortStableFunc(out, func(a, b specs.Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
	return out
}
