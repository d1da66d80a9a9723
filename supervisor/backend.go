package supervisor

import (
	"context"
	"io"
	"time"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

// Backend creates sandboxes of one kind (container, native) and reattaches to
// them after a daemon restart. It is the seam between the supervisor and the
// isolation code; a fake in the tests runs plain host processes.
type Backend interface {
	// Name is the value of Spec.Backend that selects this backend.
	Name() string
	// Probe measures what this host enforces for this backend.
	Probe(ctx context.Context) (api.Capabilities, error)
	// Create builds sandbox id from spec and starts whatever keeps it alive.
	// On error it must leave nothing behind.
	Create(ctx context.Context, id string, spec *bundle.Spec) (Sandbox, error)
	// Load reattaches to a sandbox created by an earlier daemon. It returns
	// an error wrapping ErrNotExist when nothing of it is left.
	Load(ctx context.Context, id string) (Sandbox, error)
}

// Sandbox is one live sandbox of a backend.
type Sandbox interface {
	// Exec starts a command in the sandbox and returns once it runs. ctx
	// bounds the start only; the process is ended by Process.Kill. A command
	// that does not exist or cannot be executed yields an error wrapping
	// ErrCommandNotFound or ErrNotExecutable; a sandbox whose processes are
	// gone yields ErrNotRunning.
	Exec(ctx context.Context, cfg *ExecConfig) (Process, error)
	// Pause freezes every process of the sandbox; Resume thaws them.
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	// Stats reads the sandbox's resource usage from its cgroup.
	Stats(ctx context.Context) (*api.Stats, error)
	// KillExecs kills whatever is left of execs started by an earlier
	// daemon (the ids of ExecConfig.ID), whole process trees included.
	KillExecs(ctx context.Context, execIDs []string) error
	// Destroy kills every process of the sandbox and removes everything the
	// backend made for it. Destroying a half-built or already destroyed
	// sandbox succeeds.
	Destroy(ctx context.Context) error
}

// ExecConfig is one command to run in a sandbox.
type ExecConfig struct {
	// ID is unique per exec; backends may tag the exec's processes with it
	// (for example the environment variable AGENTD_EXEC_ID) so that
	// KillExecs can find them after a daemon restart.
	ID   string
	Args []string
	// Env is added on top of the sandbox's environment (the spec's env
	// plus the backend's PATH, HOME, LANG and TERM defaults) and overrides
	// it. Nothing of the daemon's own environment may reach the command.
	Env map[string]string
	// Workdir is absolute, or empty for the sandbox's default.
	Workdir string
	// User overrides the spec's user when not nil.
	User *bundle.User
	// Tty asks for a pseudo-terminal; output then arrives on Stdout only.
	Tty        bool
	Rows, Cols uint16
	// Timeout is the exec's timeout (0: none). The supervisor enforces it;
	// a backend that enforces it too reports ExitStatus.TimedOut.
	Timeout time.Duration
	// Stdin is nil for no input (the command reads end of file).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Process is a running exec.
type Process interface {
	Pid() int
	// Wait waits for the command to exit and its output to be copied.
	Wait() (ExitStatus, error)
	// Kill sends SIGKILL to the exec's whole process tree, including
	// children that double-forked or called setsid.
	Kill() error
	// Resize changes the pseudo-terminal's size; it fails with
	// ErrUnsupported when the exec has no tty.
	Resize(rows, cols uint16) error
}

// ExitStatus is how a process ended: Code, or Signal when it was killed.
type ExitStatus struct {
	Code     int
	Signal   int
	TimedOut bool // the backend's own timeout ended it
}
