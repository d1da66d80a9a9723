package runtime

import "errors"

// Sentinel errors; callers match them with errors.Is.
var (
	// ErrNotExist: no container with that id under the state root.
	ErrNotExist = errors.New("container does not exist")
	// ErrExist: a container with that id already exists.
	ErrExist = errors.New("container already exists")
	// ErrInvalidID: the id is empty or has characters that could escape the state root.
	ErrInvalidID = errors.New("invalid container id")
	// ErrInvalidState: the operation is not allowed in the container's current state.
	ErrInvalidState = errors.New("invalid container state")
	// ErrNotRunning: the container has no live processes to act on.
	ErrNotRunning = errors.New("container not running")
	// ErrInvalidBundle: the bundle or its config.json is missing or malformed.
	ErrInvalidBundle = errors.New("invalid bundle")
	// ErrInvalidArgument: a flag or argument has a value agentd cannot honour.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnsupported: the host cannot provide what was asked for.
	ErrUnsupported = errors.New("not supported on this host")
)
