package bundle

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path so that readers, and a crash, see the
// old content or the new one, never a mix: a temporary file in the same
// directory, fsync, rename, fsync of the directory. It is the one way
// agentd writes its state files (config.json, spec.json, state.json, the
// native backend's records).
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, true)
}

// ReplaceFile is WriteFileAtomic without the fsyncs: readers and a crash
// of the process still see the old content or the new one, never a mix,
// but after a power loss either may be lost. It is for records that mean
// nothing after a reboot (which commands are running right now), where two
// journal commits per write would cost more than the work they record.
func ReplaceFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, false)
}

func writeFile(path string, data []byte, perm fs.FileMode, sync bool) (retErr error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if retErr != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("renaming %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
