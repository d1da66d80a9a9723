package bundle

import "errors"

// Sentinel errors of this package. Callers test them with [errors.Is].
var (
	// ErrInvalidSpec wraps every refusal of a Spec: a bad field, a bad
	// document, or a spec the chosen operation cannot serve.
	ErrInvalidSpec = errors.New("invalid sandbox spec")
	// ErrInvalidID is returned for a sandbox id that does not match
	// [A-Za-z0-9][A-Za-z0-9_.-]{0,127}.
	ErrInvalidID = errors.New("invalid sandbox id")
	// ErrExist is returned by [Materialize] when the sandbox directory is
	// already there.
	ErrExist = errors.New("sandbox already exists")
	// ErrNotExist is returned by [Remount] when the sandbox directory is missing.
	ErrNotExist = errors.New("sandbox does not exist")
	// ErrInvalidSnapshotName is returned for a snapshot name that could
	// name anything outside the sandbox's snapshots directory.
	ErrInvalidSnapshotName = errors.New("invalid snapshot name")
	// ErrSnapshotNotExist is returned for a snapshot that does not exist.
	ErrSnapshotNotExist = errors.New("snapshot does not exist")
	// ErrUnsupported is returned on platforms without overlayfs and mount
	// namespaces.
	ErrUnsupported = errors.New("not supported on this platform")
)

// FieldError is one bad field of a Spec. Field is the JSON path of the field,
// e.g. "mounts[1].target"; Msg says what is wrong and how to fix it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes every FieldError match [ErrInvalidSpec].
func (e *FieldError) Unwrap() error { return ErrInvalidSpec }
