// Package bundle holds the sandbox Spec, the contract between the CLI, the
// API and both backends, and its translation to an OCI bundle.
package bundle

// Backends a Spec may name.
const (
	BackendContainer = "container"
	BackendNative    = "native"
)

// Network modes.
const (
	NetworkNone = "none"
	NetworkHost = "host"
)

// Spec describes one sandbox. It is JSON with camelCase names; every CLI flag
// of `agentd sandbox create` maps to one field.
type Spec struct {
	Backend    string            `json:"backend,omitempty"`
	Profile    string            `json:"profile,omitempty"`
	Base       *Base             `json:"base,omitempty"`
	Workdir    string            `json:"workdir,omitempty"`
	Mounts     []Mount           `json:"mounts,omitempty"`
	ReadPaths  []string          `json:"readPaths,omitempty"`
	WritePaths []string          `json:"writePaths,omitempty"`
	Network    Network           `json:"network,omitempty"`
	Limits     Limits            `json:"limits,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	User       *User             `json:"user,omitempty"`
	Hostname   string            `json:"hostname,omitempty"`
	BestEffort bool              `json:"bestEffort,omitempty"`
}

// Base is the read-only lower layer of a container sandbox. With no Base the
// host's system directories are used.
type Base struct {
	Rootfs string `json:"rootfs,omitempty"`
}

// Mount shares a host path at another target inside the sandbox.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	Readonly bool   `json:"readonly,omitempty"`
}

// Network selects the sandbox's network.
type Network struct {
	Mode string `json:"mode,omitempty"`
}

// Limits are the sandbox's resource limits; zero means the profile's default.
type Limits struct {
	MemoryBytes int64   `json:"memoryBytes,omitempty"`
	Cpus        float64 `json:"cpus,omitempty"`
	Pids        int64   `json:"pids,omitempty"`
	TimeoutMs   int64   `json:"timeoutMs,omitempty"`
}

// User is the identity commands run as.
type User struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}
