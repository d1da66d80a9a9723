package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/agentd/agentd/bundle"
)

// The project's error sentinels, as the daemon's API and its clients know
// them. The daemon returns errors that wrap them; [Classify] maps them to an
// HTTP status and a kind on the wire, and the client maps the kind back
// ([ErrorOfKind]), so errors.Is works on both sides of the socket. The
// sandbox CLI turns them into exit codes at its own edge.
var (
	// ErrNotExist: no sandbox (or exec, file, endpoint) with that id, name or path.
	ErrNotExist = errors.New("no such sandbox")
	// ErrExist: a sandbox with that id or name already exists.
	ErrExist = errors.New("sandbox already exists")
	// ErrInvalidID: an id or name that does not match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}.
	ErrInvalidID = errors.New("invalid sandbox id or name")
	// ErrInvalidArgument: a malformed or inconsistent request.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInvalidState: the operation is not allowed in the sandbox's current
	// lifecycle state (see the transition table in supervisor/state.go).
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
	// ErrTooLarge: a request body over [MaxRequestBytes].
	ErrTooLarge = errors.New("request too large")
)

// Error kinds on the wire (the "kind" of an [ErrorBody]).
const (
	KindNotExist        = "notExist"
	KindExist           = "exist"
	KindInvalidArgument = "invalidArgument"
	KindInvalidState    = "invalidState"
	KindNotRunning      = "notRunning"
	KindUnsupported     = "unsupported"
	KindUnauthorized    = "unauthorized"
	KindTooLarge        = "tooLarge"
	KindInternal        = "internal"
)

// errorKinds is the one table of sentinels, kinds and HTTP statuses, in the
// order Classify tries them.
var errorKinds = []struct {
	err    error
	kind   string
	status int
}{
	{ErrTooLarge, KindTooLarge, http.StatusRequestEntityTooLarge},
	{ErrNotExist, KindNotExist, http.StatusNotFound},
	{ErrExist, KindExist, http.StatusConflict},
	{ErrInvalidID, KindInvalidArgument, http.StatusBadRequest},
	{ErrInvalidArgument, KindInvalidArgument, http.StatusBadRequest},
	{bundle.ErrInvalidSpec, KindInvalidArgument, http.StatusBadRequest},
	{ErrNotRunning, KindNotRunning, http.StatusConflict},
	{ErrInvalidState, KindInvalidState, http.StatusConflict},
	{ErrUnsupported, KindUnsupported, http.StatusNotImplemented},
	{ErrUnauthorized, KindUnauthorized, http.StatusForbidden},
}

// Classify maps an error to its HTTP status and kind. The API server calls
// it for every error answer; nothing else turns errors into statuses.
func Classify(err error) (status int, kind string) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, KindTooLarge
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.status, k.kind
		}
	}
	if errors.Is(err, context.Canceled) {
		return 499, KindInternal // nginx's "client closed request"
	}
	return http.StatusInternalServerError, KindInternal
}

// ErrorOfKind is the sentinel an error of kind stands for on the client's
// side (nil for kinds without one, such as internal). invalidArgument maps
// to ErrInvalidArgument.
func ErrorOfKind(kind string) error {
	if kind == KindInvalidArgument {
		return ErrInvalidArgument
	}
	for _, k := range errorKinds {
		if k.kind == kind {
			return k.err
		}
	}
	return nil
}
