package native

import "errors"

// Sentinel errors of this package. Callers test them with [errors.Is]; the
// CLI and the API server map them to exit codes and HTTP statuses.
var (
	// ErrUnsupported is returned when this host (kernel, build or
	// privileges) cannot enforce what a Spec asks for and the Spec did not
	// opt into bestEffort. The message names the missing feature.
	ErrUnsupported = errors.New("not supported on this host")
	// ErrInvalidSpec is returned for a Spec the native backend cannot serve
	// (bind mounts, a base rootfs, a missing path, a bad environment).
	ErrInvalidSpec = errors.New("invalid spec for the native backend")
	// ErrInvalidID is returned for a sandbox or exec id that does not match
	// [A-Za-z0-9][A-Za-z0-9_.-]{0,127}.
	ErrInvalidID = errors.New("invalid id")
	// ErrInvalidWorkdir is returned for a workdir that is absolute, has a
	// ".." component, or resolves outside the sandbox root.
	ErrInvalidWorkdir = errors.New("invalid workdir")
	// ErrCommandNotFound is returned when the command is not found on the
	// sandbox's PATH (exit code 127 in the CLI).
	ErrCommandNotFound = errors.New("command not found")
	// ErrNotExecutable is returned when the command exists but cannot be
	// executed (exit code 126 in the CLI).
	ErrNotExecutable = errors.New("command not executable")
	// ErrExist is returned by [Create] when the sandbox directory exists,
	// and by Start for an exec id that is in use.
	ErrExist = errors.New("already exists")
	// ErrNotExist is returned by [Load] when nothing of the sandbox is left.
	ErrNotExist = errors.New("sandbox does not exist")
	// ErrPaused is returned by Exec on a paused sandbox.
	ErrPaused = errors.New("sandbox is paused")
	// ErrDestroyed is returned by every method of a destroyed [Sandbox].
	ErrDestroyed = errors.New("sandbox is destroyed")
	// ErrHelper is returned when confining the command failed before it
	// could run: in the child that becomes the command, or in the
	// native-exec helper.
	ErrHelper = errors.New("setting up the command failed")
)
