// Package native is agentd's native backend: it runs commands on the host
// file system, confined by Landlock (what they may read, write, execute,
// connect to and signal), a seccomp deny filter, an unprivileged user, rlimits,
// an empty network namespace when the network is "none", and a cgroup per
// sandbox that bounds memory, CPU and processes and lets a whole process tree
// be frozen or killed.
//
// The calling process (daemon, CLI, test) is never restricted: each command
// is started by a child that applies the restrictions to itself and then
// executes the command. In a cgo build (every agentd build: libcontainer
// needs cgo) that child is a vfork-style clone of the caller running a few
// lines of C, so no second Go program starts. Otherwise, and on hosts with
// fs.suid_dumpable=1, it is a helper: this same binary re-executed as
// `native-exec`. A binary that uses this package must call [HelperMain] when
// os.Args[1] is "native-exec", before it does anything else.
package native

import (
	"io"
	"slices"
	"syscall"
	"time"

	"github.com/agentd/agentd/bundle"
)

// Process is one command to run in a sandbox.
type Process struct {
	// ID names the exec (its cgroup is <sandbox cgroup>/<ID>) so that it
	// can be killed later with [Sandbox.KillExec]. Empty means generated.
	ID string
	// Args is the command and its arguments; Args[0] is looked up on the
	// sandbox's PATH unless it contains a slash.
	Args []string
	// Env is added on top of the spec's environment (and overrides it).
	// Nothing of the caller's own environment is ever passed on.
	Env map[string]string
	// Workdir is relative to the sandbox root (the first write path that
	// is a directory, else the scratch dir) and must stay below it.
	// Empty means the spec's workdir, else the root.
	Workdir string
	// Stdin nil means no input. Stdout and Stderr nil discard the output.
	// An *os.File is handed to the command as it is; anything else is
	// copied through a pipe while the command runs.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Tty makes Stdin, which must be a terminal *os.File (a pty slave),
	// the command's controlling terminal: what interactive shells and job
	// control need. TIOCSTI stays refused.
	Tty bool
	// Timeout ends the command and everything it started; zero means the
	// spec's limits.timeoutMs, and zero there means no timeout.
	Timeout time.Duration
	// User overrides the spec's user when not nil.
	User *bundle.User
}

// Result is how a command ended.
type Result struct {
	// ExitCode is the command's exit code, or 128+N when it was killed by
	// signal N (docker's convention).
	ExitCode int `json:"exitCode"`
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal `json:"signal,omitempty"`
	// TimedOut is true when the timeout ended the command (the CLI exits
	// 124 then).
	TimedOut bool `json:"timedOut,omitempty"`
	// OOMKilled is true when the kernel's OOM killer ended the command
	// because the sandbox reached its memory limit.
	OOMKilled bool `json:"oomKilled,omitempty"`
	// Duration is the wall time from start to exit.
	Duration time.Duration `json:"duration"`
	// Enforced is what was enforced on this command, as the child that
	// became the command applied it.
	Enforced Report `json:"enforced"`
}

// Report says what was actually enforced on a command (or, for
// [Sandbox.Report], what will be).
type Report struct {
	// LandlockABI is the Landlock ABI whose access rights were handled; 0
	// means Landlock was not applied (only possible with bestEffort).
	LandlockABI int `json:"landlockAbi"`
	// Landlock lists the enforced Landlock features: fs, refer, truncate,
	// tcp, ioctl-dev, scope-signal, scope-abstract-unix, unix-socket-path,
	// udp.
	Landlock []string `json:"landlock,omitempty"`
	// Seccomp is true when the seccomp deny filter was loaded.
	Seccomp bool `json:"seccomp"`
	// NoNewPrivs is true when no_new_privs was set.
	NoNewPrivs bool `json:"noNewPrivs"`
	// NetNamespace is true when the command ran in an empty network
	// namespace.
	NetNamespace bool `json:"netNamespace"`
	// UID and GID are the identity the command ran as.
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
	// Cgroup is "v1:<path>" or "v2:<path>".
	Cgroup string `json:"cgroup,omitempty"`
	// Limits lists the cgroup controllers in force: memory, pids, cpu
	// (when the spec limits CPUs) and freezer (pause, race-free kill).
	Limits []string `json:"limits,omitempty"`
	// Rlimits lists the resource limits set, e.g. "core=0".
	Rlimits []string `json:"rlimits,omitempty"`
	// Missing lists what the spec asked for but this host could not
	// enforce; never empty without bestEffort.
	Missing []string `json:"missing,omitempty"`
}

// Stats is a sandbox's resource usage, read from its cgroup.
type Stats struct {
	MemoryBytes      uint64        `json:"memoryBytes"`
	MemoryPeakBytes  uint64        `json:"memoryPeakBytes,omitempty"`
	MemoryLimitBytes uint64        `json:"memoryLimitBytes,omitempty"`
	CPUTime          time.Duration `json:"cpuTimeNs"`
	Pids             uint64        `json:"pids"`
	PidsLimit        uint64        `json:"pidsLimit,omitempty"`
	Paused           bool          `json:"paused"`
}

// Capabilities is what this host can enforce for the native backend, as
// measured by [Probe].
type Capabilities struct {
	// Root is true when agentd runs as root (needed to create cgroups, to
	// change user and to make network namespaces).
	Root bool `json:"root"`
	// LandlockABI is the kernel's Landlock ABI version (0: none), asked
	// from the kernel with landlock_create_ruleset.
	LandlockABI int `json:"landlockAbi"`
	// LandlockLibABI is the highest ABI the linked go-landlock knows.
	LandlockLibABI int `json:"landlockLibAbi"`
	// SeccompKernel is true when the kernel accepts seccomp filters.
	SeccompKernel bool `json:"seccompKernel"`
	// SeccompLibrary is true when this binary was built with libseccomp
	// (the `seccomp` build tag).
	SeccompLibrary bool `json:"seccompLibrary"`
	// CgroupMode is "legacy" (v1), "hybrid" (v1 controllers plus a v2
	// mount), "unified" (v2) or "unavailable".
	CgroupMode string `json:"cgroupMode"`
	// CgroupVersion is the hierarchy the backend uses: 1, 2, or 0.
	CgroupVersion int `json:"cgroupVersion"`
	// CgroupControllers lists the usable controllers among memory, cpu,
	// cpuacct, pids and freezer.
	CgroupControllers []string `json:"cgroupControllers,omitempty"`
	// NetNamespace is true when a new network namespace can be made.
	NetNamespace bool `json:"netNamespace"`
}

// Seccomp reports whether the seccomp filter can be loaded.
func (c Capabilities) Seccomp() bool { return c.SeccompKernel && c.SeccompLibrary }

// HasController reports whether the cgroup controller name is usable.
func (c Capabilities) HasController(name string) bool {
	return slices.Contains(c.CgroupControllers, name)
}
