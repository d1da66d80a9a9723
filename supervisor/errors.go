package supervisor

import "errors"

// Sentinel errors of the supervisor. The API server maps them to HTTP status
// codes and the client maps the codes back, so errors.Is works on both sides
// of the socket.
var (
	// ErrNotExist: no sandbox (or exec) with that id or name.
	ErrNotExist = errors.New("no such sandbox")
	// ErrExist: a sandbox with that id or name already exists.
	ErrExist = errors.New("sandbox already exists")
	// ErrInvalidID: an id or name that does not match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}.
	ErrInvalidID = errors.New("invalid sandbox id or name")
	// ErrInvalidArgument: a malformed or inconsistent request.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInvalidState: the operation is not allowed in the sandbox's current
	// lifecycle state (see the transition table in state.go).
	ErrInvalidState = errors.New("operation not allowed in this state")
	// ErrNotRunning: the sandbox's processes are gone.
	ErrNotRunning = errors.New("sandbox is not running")
	// ErrUnsupported: the backend or host cannot do this.
	ErrUnsupported = errors.New("not supported")
	// ErrCommandNotFound: the command to execute does not exist (exit 127).
	ErrCommandNotFound = errors.New("command not found")
	// ErrNotExecutable: the command exists but cannot be executed (exit 126).
	ErrNotExecutable = errors.New("command not executable")
	// ErrUnauthorized: the peer's credentials are not allowed.
	ErrUnauthorized = errors.New("permission denied")
)
