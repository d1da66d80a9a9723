//go:build !linux

package bundle

import "fmt"

// Materialize needs overlayfs and mount namespaces; it is Linux only.
func Materialize(stateDir, id string, spec *Spec, args []string) (*Bundle, error) {
	return nil, fmt.Errorf("materializing sandbox %s: %w", id, ErrUnsupported)
}

// MaterializeTransient is Linux only.
func MaterializeTransient(stateDir, id string, spec *Spec, args []string) (*Bundle, error) {
	return Materialize(stateDir, id, spec, args)
}

// Remount is Linux only.
func Remount(stateDir, id string, spec *Spec) (*Bundle, error) {
	return nil, fmt.Errorf("mounting sandbox %s: %w", id, ErrUnsupported)
}

// Unmount is Linux only.
func Unmount(stateDir, id string) error {
	return fmt.Errorf("unmounting sandbox %s: %w", id, ErrUnsupported)
}

// Remove is Linux only.
func Remove(stateDir, id string) error {
	return fmt.Errorf("removing sandbox %s: %w", id, ErrUnsupported)
}
