//go:build linux

package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// resolveWorkdir opens the directory rel beneath root and returns it as an
// O_PATH file to fchdir to. The kernel resolves the path (openat2 with
// RESOLVE_BENEATH) so a symlink, ".." or magic link that leads out of root
// is refused rather than followed, and nothing can swap a component between
// the check and the use.
func resolveWorkdir(root, rel string) (*os.File, error) {
	if err := checkWorkdir(rel); err != nil {
		return nil, err
	}
	rootFD, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: sandbox root %s: %v", ErrInvalidWorkdir, root, err)
	}
	defer unix.Close(rootFD)
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(rootFD, rel, &how)
	if errors.Is(err, unix.ENOSYS) {
		// Linux < 5.6; Landlock ABI 6 needs 6.12, so only bestEffort gets
		// here, and only a workdir that needs no resolving runs.
		if rel == "." {
			if fd, err = unix.Dup(rootFD); err != nil {
				return nil, workdirError(root, rel, err)
			}
			unix.CloseOnExec(fd)
			return os.NewFile(uintptr(fd), root), nil
		}
		return nil, fmt.Errorf("%w: workdir %q: resolving it safely needs openat2 (Linux 5.6+)", ErrUnsupported, rel)
	}
	if err != nil {
		return nil, workdirError(root, rel, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
}

func workdirError(root, rel string, err error) error {
	switch {
	case errors.Is(err, unix.EXDEV):
		return fmt.Errorf("%w: workdir %q escapes the sandbox root %s through a symlink (absolute symlinks are never followed)", ErrInvalidWorkdir, rel, root)
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w: workdir %q does not exist in the sandbox root %s", ErrInvalidWorkdir, rel, root)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%w: workdir %q is not a directory", ErrInvalidWorkdir, rel)
	}
	return fmt.Errorf("%w: workdir %q: %v", ErrInvalidWorkdir, rel, err)
}
