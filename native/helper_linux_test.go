//go:build linux

package native

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLookPath(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	write := func(p string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(a, "tool"), 0o644) // found first, but not executable
	write(filepath.Join(b, "tool"), 0o755)
	write(filepath.Join(a, "noexec"), 0o644)
	if err := os.Mkdir(filepath.Join(b, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + a + ":" + b}
	t.Setenv("PATH", "/nonexistent") // the helper's own PATH must not matter
	tests := []struct {
		name string
		want string
		err  error
	}{
		{"tool", filepath.Join(b, "tool"), nil},
		{"noexec", "", ErrNotExecutable},
		{"adir", "", ErrNotExecutable},
		{"missing", "", ErrCommandNotFound},
		{filepath.Join(b, "tool"), filepath.Join(b, "tool"), nil},
		{filepath.Join(a, "noexec"), "", ErrNotExecutable},
		{filepath.Join(a, "missing"), "", ErrCommandNotFound},
	}
	for _, tc := range tests {
		got, err := lookPath(tc.name, env)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("lookPath(%q): err = %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("lookPath(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestHelperError(t *testing.T) {
	tests := map[string]error{
		kindNotFound:    ErrCommandNotFound,
		kindNotExec:     ErrNotExecutable,
		kindWorkdir:     ErrInvalidWorkdir,
		kindUnsupported: ErrUnsupported,
		kindSetup:       ErrHelper,
	}
	for kind, want := range tests {
		err := helperError(helperMsg{Kind: kind, Error: want.Error() + ": details"})
		if !errors.Is(err, want) || err.Error() != want.Error()+": details" {
			t.Errorf("kind %s: %v, want %v with the message once", kind, err, want)
		}
	}
}
