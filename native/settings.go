package native

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/agentd/agentd/bundle"
)

// Defaults the native backend applies itself; the limits come from the
// spec's profile (bundle.Spec.WithDefaults), as for every backend.
const (
	defaultUID = 65534 // nobody
	defaultGID = 65534 // nogroup
	// defaultNoFile is RLIMIT_NOFILE (soft and hard) for every command.
	defaultNoFile = 4096
	// cpuPeriodUs is the CFS period the CPU quota is expressed in.
	cpuPeriodUs = 100000
	// MinLandlockABI is the oldest Landlock ABI that enforces everything
	// the sandbox model relies on: file access including truncate (v3), TCP
	// (v4), device ioctls (v5), and the scoping of signals and abstract unix
	// sockets to the sandbox (v6, Linux 6.12).
	MinLandlockABI = 6
)

// checkID applies the project's id rule ([bundle.ValidateID]) before an id
// touches a path.
func checkID(kind, id string) error {
	if bundle.ValidateID(id) != nil {
		return fmt.Errorf("%w: %s id %q must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}", ErrInvalidID, kind, id)
	}
	return nil
}

// settings is a Spec normalised for the native backend: defaults applied,
// paths cleaned and checked, things it cannot do refused.
type settings struct {
	Network    string            `json:"network"`
	UID        uint32            `json:"uid"`
	GID        uint32            `json:"gid"`
	ReadPaths  []string          `json:"readPaths,omitempty"`
	WritePaths []string          `json:"writePaths,omitempty"`
	Workdir    string            `json:"workdir"` // relative to the root
	Env        map[string]string `json:"env,omitempty"`
	Memory     int64             `json:"memoryBytes"`
	Cpus       float64           `json:"cpus,omitempty"`
	Pids       int64             `json:"pids"`
	Timeout    time.Duration     `json:"timeout,omitempty"`
	BestEffort bool              `json:"bestEffort,omitempty"`
}

// normalize checks spec for the native backend and applies the defaults.
func normalize(spec *bundle.Spec) (*settings, error) {
	if spec == nil {
		return nil, fmt.Errorf("%w: no spec", ErrInvalidSpec)
	}
	if spec.Backend != "" && spec.Backend != bundle.BackendNative {
		return nil, fmt.Errorf("%w: backend is %q; the native backend runs specs with backend %q", ErrInvalidSpec, spec.Backend, bundle.BackendNative)
	}
	if spec.Profile != "" && !slices.Contains(bundle.ProfileNames(), spec.Profile) {
		return nil, fmt.Errorf("%w: profile %q is unknown; use one of %v", ErrInvalidSpec, spec.Profile, bundle.ProfileNames())
	}
	// The profile's limits, also for a spec no caller gave defaults.
	withBackend := *spec
	withBackend.Backend = bundle.BackendNative
	spec = withBackend.WithDefaults()
	if spec.Base != nil && spec.Base.Rootfs != "" {
		return nil, fmt.Errorf("%w: base.rootfs needs the container backend; the native backend runs on the host file system", ErrInvalidSpec)
	}
	if len(spec.Mounts) > 0 {
		return nil, fmt.Errorf("%w: mounts need the container backend; use readPaths/writePaths to share host paths in place", ErrInvalidSpec)
	}
	st := &settings{BestEffort: spec.BestEffort, UID: defaultUID, GID: defaultGID}
	var err error
	if st.Network, err = networkMode(spec.Network.Mode); err != nil {
		return nil, err
	}
	if spec.User != nil {
		st.UID, st.GID = spec.User.UID, spec.User.GID
	}
	if err := checkUser(st.UID, st.GID); err != nil {
		return nil, err
	}
	if st.ReadPaths, err = hostPaths("readPaths", spec.ReadPaths); err != nil {
		return nil, err
	}
	if st.WritePaths, err = hostPaths("writePaths", spec.WritePaths); err != nil {
		return nil, err
	}
	if slices.Contains(st.WritePaths, "/") {
		return nil, fmt.Errorf("%w: writePaths: \"/\" would make the whole host writable; name the directories the command needs", ErrInvalidSpec)
	}
	if err := checkNesting(st.ReadPaths, st.WritePaths); err != nil {
		return nil, err
	}
	// bundle's default workdir is "/", the root of a container; for the
	// native backend the root is the sandbox root, so "/" means ".".
	if spec.Workdir != "" && spec.Workdir != "/" {
		if err := checkWorkdir(spec.Workdir); err != nil {
			return nil, fmt.Errorf("spec workdir: %w", err)
		}
		st.Workdir = filepath.Clean(spec.Workdir)
	}
	if err := checkEnv(spec.Env); err != nil {
		return nil, err
	}
	st.Env = spec.Env
	if err := st.setLimits(spec.Limits); err != nil {
		return nil, err
	}
	return st, nil
}

// checkNesting refuses a read or write path at or below a write path.
// Such a path adds nothing (a write path may be read, written and
// executed, below it too), and since every exec opens its rule paths by
// name, a command could replace it with a symlink and have the next exec
// grant access to wherever the link points.
func checkNesting(read, write []string) error {
	for i, w := range write {
		for j, p := range append(slices.Clone(write), read...) {
			if j == i || (p != w && !strings.HasPrefix(p, w+"/")) {
				continue
			}
			field := "writePaths"
			if j >= len(write) {
				field = "readPaths"
			}
			return fmt.Errorf("%w: %s %q is at or below writePaths %q, which already allows it all: leave it out", ErrInvalidSpec, field, p, w)
		}
	}
	return nil
}

func networkMode(mode string) (string, error) {
	switch mode {
	case "", bundle.NetworkNone:
		return bundle.NetworkNone, nil
	case bundle.NetworkHost:
		return bundle.NetworkHost, nil
	}
	return "", fmt.Errorf("%w: network.mode %q: want %q or %q", ErrInvalidSpec, mode, bundle.NetworkNone, bundle.NetworkHost)
}

// checkUser refuses root: the native backend shares the host's file system
// and namespaces, so root's capabilities would be too much to fence.
func checkUser(uid, gid uint32) error {
	if uid == 0 {
		return fmt.Errorf("%w: user.uid 0: the native backend never runs commands as root; pick an unprivileged uid (default %d)", ErrInvalidSpec, defaultUID)
	}
	if gid == 0 {
		return fmt.Errorf("%w: user.gid 0: the native backend never runs commands in the root group; pick another gid (default %d)", ErrInvalidSpec, defaultGID)
	}
	return nil
}

// hostPaths checks host paths given to Landlock, absolute and existing (a
// rule cannot name a missing path), and resolves their symbolic links: the
// rules, and checkNesting, see the paths they name.
func hostPaths(field string, paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("%w: %s[%d] %q: give an absolute host path", ErrInvalidSpec, field, i, p)
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %s[%d]: %v", ErrInvalidSpec, field, i, err)
		}
		out = append(out, real)
	}
	return out, nil
}

func (st *settings) setLimits(l bundle.Limits) error {
	if l.MemoryBytes < 0 || l.Cpus < 0 || l.Pids < 0 || l.TimeoutMs < 0 {
		return fmt.Errorf("%w: limits must not be negative", ErrInvalidSpec)
	}
	st.Memory, st.Cpus, st.Pids = l.MemoryBytes, l.Cpus, l.Pids
	st.Timeout = time.Duration(l.TimeoutMs) * time.Millisecond
	return nil
}

// plan decides, from what the host can enforce, what a sandbox with these
// settings gets. Without bestEffort every gap is an error wrapping
// [ErrUnsupported] that names the missing feature; with it the gaps are
// listed in Report.Missing.
func plan(caps Capabilities, st *settings) (Report, error) {
	if !caps.Root {
		return Report{}, fmt.Errorf("%w: the native backend needs root (to create cgroups, switch to the sandbox user and make network namespaces)", ErrUnsupported)
	}
	rep := Report{UID: st.UID, GID: st.GID, NoNewPrivs: true,
		Rlimits: []string{"core=0", fmt.Sprintf("nofile=%d", defaultNoFile)}}
	var missing []string
	abi := min(caps.LandlockABI, caps.LandlockLibABI)
	if abi < MinLandlockABI {
		missing = append(missing, fmt.Sprintf("Landlock ABI %d (file, TCP, device-ioctl rules and signal/abstract-socket scoping; this kernel has ABI %d)", MinLandlockABI, caps.LandlockABI))
	}
	rep.LandlockABI, rep.Landlock = abi, landlockFeatures(abi)
	if caps.Seccomp() {
		rep.Seccomp = true
	} else {
		missing = append(missing, fmt.Sprintf("seccomp filter (kernel support: %v, agentd built with libseccomp: %v)", caps.SeccompKernel, caps.SeccompLibrary))
	}
	if st.Network == bundle.NetworkNone {
		if caps.NetNamespace {
			rep.NetNamespace = true
		} else {
			missing = append(missing, "network namespace (for network \"none\")")
		}
	}
	if caps.CgroupVersion == 0 {
		missing = append(missing, "cgroups (no usable v1 or v2 hierarchy)")
	} else {
		for _, c := range neededControllers(st) {
			if caps.HasController(c) {
				rep.Limits = append(rep.Limits, c)
			} else {
				missing = append(missing, fmt.Sprintf("cgroup v%d controller %q", caps.CgroupVersion, c))
			}
		}
	}
	rep.Missing = missing
	if len(missing) > 0 && !st.BestEffort {
		return rep, fmt.Errorf("%w: this host cannot enforce %s; set bestEffort to run with less protection", ErrUnsupported, strings.Join(missing, "; "))
	}
	return rep, nil
}

// Refusal is the error a sandbox with the default spec would get on a host
// with caps (nil if it would run): the probe's answer and a create's agree.
func (c Capabilities) Refusal() error {
	st, err := normalize(&bundle.Spec{Backend: bundle.BackendNative})
	if err != nil {
		return err
	}
	_, err = plan(c, st)
	return err
}

// neededControllers are the cgroup controllers the settings rely on: the
// freezer makes pause and the whole-tree kill race-free.
func neededControllers(st *settings) []string {
	c := []string{"memory", "pids", "freezer"}
	if st.Cpus > 0 {
		c = append(c, "cpu")
	}
	return c
}

// landlockFeatures names what Landlock ABI abi restricts.
func landlockFeatures(abi int) []string {
	all := []struct {
		abi  int
		name string
	}{
		{1, "fs"}, {2, "refer"}, {3, "truncate"}, {4, "tcp"}, {5, "ioctl-dev"},
		{6, "scope-signal"}, {6, "scope-abstract-unix"}, {9, "unix-socket-path"}, {10, "udp"},
	}
	var out []string
	for _, f := range all {
		if abi >= f.abi {
			out = append(out, f.name)
		}
	}
	return out
}
