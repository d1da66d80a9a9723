package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/agentd/agentd/bundle"
)

// APIVersion is the path prefix of every endpoint.
const APIVersion = "v1"

// MaxRequestBytes bounds every request body; longer bodies get 413.
const MaxRequestBytes = 1 << 20

// MaxTimeout bounds an exec's timeout (one week).
const MaxTimeout = 7 * 24 * time.Hour

// This file holds the wire types of the HTTP/JSON API (docs/api.md) and
// their strict decoding, shared by the server and supervisor/client.

// VersionInfo answers GET /v1/version.
type VersionInfo struct {
	API      string   `json:"api"`
	Pid      int      `json:"pid"`
	Backends []string `json:"backends"`
}

// CreateRequest is the body of POST /v1/sandboxes.
type CreateRequest struct {
	Name string      `json:"name,omitempty"`
	Spec bundle.Spec `json:"spec"`
}

// SandboxInfo describes one sandbox (GET /v1/sandboxes/{id}).
type SandboxInfo struct {
	ID        string       `json:"id"`
	Name      string       `json:"name,omitempty"`
	Backend   string       `json:"backend"`
	State     State        `json:"state"`
	Error     string       `json:"error,omitempty"`
	CreatedAt time.Time    `json:"createdAt"`
	UpdatedAt time.Time    `json:"updatedAt"`
	Spec      *bundle.Spec `json:"spec,omitempty"`
	// Execs are the commands running now.
	Execs []ExecInfo `json:"execs,omitempty"`
	// Interrupted are the commands that were running when an earlier
	// daemon died; their processes were killed on recovery.
	Interrupted []ExecInfo `json:"interrupted,omitempty"`
	// Enforced is what the backend says the sandbox's commands get, for
	// backends that can tell (native).
	Enforced any `json:"enforced,omitempty"`
}

// ExecInfo describes one exec.
type ExecInfo struct {
	ID        string    `json:"id"`
	Args      []string  `json:"args"`
	Pid       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"startedAt"`
}

// ExecRequest is the body of POST /v1/sandboxes/{id}/exec.
type ExecRequest struct {
	Args []string `json:"args"`
	// Env is added to the sandbox's environment (and overrides it).
	Env     map[string]string `json:"env,omitempty"`
	Workdir string            `json:"workdir,omitempty"`
	// TimeoutMs overrides the spec's limits.timeoutMs; 0 keeps it.
	TimeoutMs int64        `json:"timeoutMs,omitempty"`
	User      *bundle.User `json:"user,omitempty"`
	Tty       bool         `json:"tty,omitempty"`
	TtySize   *Size        `json:"ttySize,omitempty"`
	// Stdin is the whole input, base64 in JSON, for requests that are not
	// upgraded; without it the command reads end of file at once.
	Stdin []byte `json:"stdin,omitempty"`
}

// Size is a terminal size.
type Size struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// Frame is one line of an exec's output stream (newline-delimited JSON).
// Exactly one field is set. The stream starts with Started and ends with
// Exit or Error.
type Frame struct {
	Started *ExecInfo   `json:"started,omitempty"`
	Stream  string      `json:"stream,omitempty"` // "stdout" or "stderr", with Data
	Data    []byte      `json:"data,omitempty"`
	Exit    *ExitResult `json:"exit,omitempty"`
	Error   *ErrorBody  `json:"error,omitempty"`
}

// InputFrame is one line a client sends on an upgraded exec connection.
type InputFrame struct {
	Stdin      []byte `json:"stdin,omitempty"`
	CloseStdin bool   `json:"closeStdin,omitempty"`
	Resize     *Size  `json:"resize,omitempty"`
}

// ExitResult is how an exec ended. Code follows the sandbox CLI's
// convention: the command's code, 124 on timeout, 126 not executable, 127
// not found, 128+N killed by signal N.
type ExitResult struct {
	Code     int    `json:"code"`
	Signal   int    `json:"signal,omitempty"`
	TimedOut bool   `json:"timedOut"`
	Killed   bool   `json:"killed,omitempty"` // by rm -f or a client that went away
	Error    string `json:"error,omitempty"`
}

// Event is one line of GET /v1/events.
type Event struct {
	Seq     uint64      `json:"seq"`
	Time    time.Time   `json:"time"`
	Type    string      `json:"type"` // one of the Event* constants
	Sandbox string      `json:"sandbox"`
	From    State       `json:"from,omitempty"`
	To      State       `json:"to,omitempty"`
	Exec    *ExecInfo   `json:"exec,omitempty"`
	Exit    *ExitResult `json:"exit,omitempty"`
	Error   string      `json:"error,omitempty"`
	// Snapshot names the snapshot of a snapshot or restore event.
	Snapshot string `json:"snapshot,omitempty"`
}

// Event types.
const (
	EventState       = "state"            // From → To
	EventRemoved     = "removed"          // the sandbox is gone
	EventExecStart   = "exec.start"       // Exec
	EventExecExit    = "exec.exit"        // Exec, Exit
	EventInterrupted = "exec.interrupted" // Exec: it was running when the daemon died
	EventOverflow    = "overflow"         // the last event: the client read too slowly
	EventSnapshot    = "snapshot"         // Snapshot was taken
	EventRestore     = "restore"          // the sandbox was restored from Snapshot
)

// SnapshotRequest is the body of POST /v1/sandboxes/{id}/snapshots and
// /restore (Name of the snapshot).
type SnapshotRequest struct {
	Name string `json:"name"`
}

// ForkRequest is the body of POST /v1/sandboxes/{id}/fork: start from
// Snapshot, or from the live file system when it is empty; Name names the
// new sandbox.
type ForkRequest struct {
	Snapshot string `json:"snapshot,omitempty"`
	Name     string `json:"name,omitempty"`
}

// CopyFrame is one line of a snapshot, restore or fork answer streamed as
// NDJSON (Accept: application/x-ndjson): progress lines, then the result or
// the error.
type CopyFrame struct {
	Progress *bundle.CopyStats `json:"progress,omitempty"`
	Result   json.RawMessage   `json:"result,omitempty"`
	Error    *ErrorBody        `json:"error,omitempty"`
}

// ErrorBody is the JSON body of every error response: Message says what went
// wrong, Kind names the class so clients can tell them apart.
type ErrorBody struct {
	Message string `json:"error"`
	Kind    string `json:"kind,omitempty"`
}

// StatsResponse answers GET /v1/sandboxes/{id}/stats.
type StatsResponse struct {
	ID string `json:"id"`
	Stats
}

// ValidateID checks a sandbox id or name before it touches a path, with the
// project's one id rule, [bundle.ValidateID].
func ValidateID(id string) error {
	if bundle.ValidateID(id) != nil {
		return fmt.Errorf("%w %q: use 1-128 characters from [A-Za-z0-9_.-], starting with a letter or digit", ErrInvalidID, id)
	}
	return nil
}

// DecodeJSON decodes exactly one JSON value from r into v, refusing unknown
// fields and trailing data. Errors wrap ErrInvalidArgument.
func DecodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: empty body, expected a JSON object", ErrInvalidArgument)
		}
		return fmt.Errorf("%w: malformed JSON: %v", ErrInvalidArgument, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: unexpected data after the JSON object", ErrInvalidArgument)
	}
	return nil
}

// DecodeCreateRequest decodes and checks a create request. The spec itself is
// validated by the supervisor, after its defaults are filled in.
func DecodeCreateRequest(data []byte) (*CreateRequest, error) {
	var req CreateRequest
	if err := DecodeJSON(bytes.NewReader(data), &req); err != nil {
		return nil, err
	}
	if req.Name != "" {
		if err := ValidateID(req.Name); err != nil {
			return nil, fmt.Errorf("name: %w", err)
		}
	}
	return &req, nil
}

// DecodeExecRequest decodes and checks an exec request.
func DecodeExecRequest(data []byte) (*ExecRequest, error) {
	var req ExecRequest
	if err := DecodeJSON(bytes.NewReader(data), &req); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return &req, nil
}

// Validate checks the fields of an exec request.
func (r *ExecRequest) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, a...))
	}
	if len(r.Args) == 0 || r.Args[0] == "" {
		return bad("args: give the command to run, e.g. [\"sh\", \"-c\", \"echo hi\"]")
	}
	for i, a := range r.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return bad("args[%d]: contains a NUL byte", i)
		}
	}
	for k, v := range r.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.IndexByte(v, 0) >= 0 {
			return bad("env: %q is not a valid variable name (no '=', no NUL)", k)
		}
	}
	if r.Workdir != "" && (!strings.HasPrefix(r.Workdir, "/") || strings.IndexByte(r.Workdir, 0) >= 0) {
		return bad("workdir: %q must be an absolute path", r.Workdir)
	}
	if r.TimeoutMs < 0 || r.TimeoutMs > int64(MaxTimeout/time.Millisecond) {
		return bad("timeoutMs: %d must be between 0 and %d", r.TimeoutMs, int64(MaxTimeout/time.Millisecond))
	}
	if r.TtySize != nil && !r.Tty {
		return bad("ttySize: only with tty")
	}
	return nil
}
