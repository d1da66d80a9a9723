//go:build linux

package native

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// checkReachable refuses early, with the directory to fix, a sandbox whose
// user could not reach its scratch dir or one of its read or write paths:
// the command runs as that user, and Landlock grants nothing the file
// modes refuse.
func (s *Sandbox) checkReachable() error {
	check := func(what, p string) error {
		if dir, ok := unreachable(p, s.st.UID, s.st.GID); !ok {
			return fmt.Errorf("%w: the sandbox user %d:%d cannot reach %s %s: %s does not let it pass (make it o+x, or pick another user)",
				ErrInvalidSpec, s.st.UID, s.st.GID, what, p, dir)
		}
		return nil
	}
	if err := check("its scratch dir", s.Scratch()); err != nil {
		return err
	}
	for _, p := range s.st.ReadPaths {
		if err := check("read path", p); err != nil {
			return err
		}
	}
	for _, p := range s.st.WritePaths {
		if err := check("write path", p); err != nil {
			return err
		}
	}
	return nil
}

// unreachable checks search permission for uid:gid (no supplementary
// groups: they are cleared before the command runs) on every directory
// above p. It returns the first directory that refuses, and false.
func unreachable(p string, uid, gid uint32) (string, bool) {
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		if !searchable(dir, uid, gid) {
			return dir, false
		}
		if dir == "/" {
			return "", true
		}
	}
}

func searchable(dir string, uid, gid uint32) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := fi.Mode().Perm()
	switch {
	case st.Uid == uid:
		return mode&0o100 != 0
	case st.Gid == gid:
		return mode&0o010 != 0
	}
	return mode&0o001 != 0
}
