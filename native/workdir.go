package native

import (
	"fmt"
	"path/filepath"
	"strings"
)

// checkWorkdir is the lexical half of workdir resolution, done first so
// that the error is immediate: a workdir must be relative to the sandbox
// root and must not climb out of it with "..". Symlinks are checked by
// [resolveWorkdir] when the command starts, race-free.
func checkWorkdir(dir string) error {
	if filepath.IsAbs(dir) {
		return fmt.Errorf("%w: absolute workdir %q is not allowed: give a path relative to the sandbox root", ErrInvalidWorkdir, dir)
	}
	for _, c := range strings.Split(dir, "/") {
		if c == ".." {
			return fmt.Errorf("%w: workdir %q has a \"..\" component", ErrInvalidWorkdir, dir)
		}
	}
	return nil
}
