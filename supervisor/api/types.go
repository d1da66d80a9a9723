package api

import "github.com/agentd/agentd/bundle"

// State is a sandbox's lifecycle state. It is persisted in state.json.
type State string

// The lifecycle states.
const (
	// Creating: the backend is building the sandbox.
	Creating State = "creating"
	// Running: commands can be executed.
	Running State = "running"
	// Paused: every process of the sandbox is frozen.
	Paused State = "paused"
	// Stopped: the sandbox's processes are gone; it can only be removed.
	Stopped State = "stopped"
	// Failed: creation, recovery or removal went wrong; it can only be removed.
	Failed State = "failed"
	// Removing: the backend is tearing the sandbox down.
	Removing State = "removing"
)

// Valid reports whether s is one of the lifecycle states.
func (s State) Valid() bool {
	switch s {
	case Creating, Running, Paused, Stopped, Failed, Removing:
		return true
	}
	return false
}

// Stats is a sandbox's resource usage, read from its cgroup.
type Stats struct {
	MemoryBytes      int64 `json:"memoryBytes"`
	MemoryLimitBytes int64 `json:"memoryLimitBytes,omitempty"`
	CPUTimeNs        int64 `json:"cpuTimeNs"`
	Pids             int64 `json:"pids"`
	PidsLimit        int64 `json:"pidsLimit,omitempty"`
}

// Capabilities is what one backend can enforce on this host, as measured by
// its Probe.
type Capabilities struct {
	Backend   string    `json:"backend"`
	Available bool      `json:"available"`
	Reason    string    `json:"reason,omitempty"`
	Features  []Feature `json:"features,omitempty"`
}

// Feature is one measured protection, e.g. "landlock" with Detail "ABI 6".
type Feature struct {
	Name     string `json:"name"`
	Enforced bool   `json:"enforced"`
	Detail   string `json:"detail,omitempty"`
}

// SnapshotResult answers a snapshot request.
type SnapshotResult struct {
	Sandbox  string              `json:"sandbox"`
	Snapshot bundle.SnapshotInfo `json:"snapshot"`
}

// CopyResult answers a restore or fork: the sandbox and what was copied.
type CopyResult struct {
	Sandbox SandboxInfo      `json:"sandbox"`
	Copy    bundle.CopyStats `json:"copy"`
}

// Exit codes of the sandbox CLI convention (docker's).
const (
	ExitAgentd        = 125
	ExitNotExecutable = 126
	ExitNotFound      = 127
	ExitTimeout       = 124
)

// UpgradeProtocol is the Upgrade header value that turns an exec request
// into a bidirectional stream: after "101 Switching Protocols" the client
// sends [InputFrame] lines and the daemon sends [Frame] lines.
const UpgradeProtocol = "agentd-exec/1"
