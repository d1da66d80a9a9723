package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// Snapshots of a container sandbox live beside its layers:
//
//	<stateDir>/sandboxes/<id>/snapshots/<name>/
//	    upper/      a copy of the sandbox's upper/ at the snapshot
//	    meta.json   SnapshotInfo, written last
//
// A snapshot is copied into snapshots/.tmp-<name>-* and renamed into place
// only when complete, so a crash or a full disk never leaves a half
// snapshot under its name.
const snapshotsDir = "snapshots"

// SnapshotInfo describes one snapshot.
type SnapshotInfo struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Size is the bytes of file data in the snapshot.
	Size  int64     `json:"size"`
	Files int64     `json:"files"`
	Copy  CopyStats `json:"copy"`
}

// ValidateSnapshotName accepts the same names as sandbox ids: no '/', no
// "..", nothing that could leave the snapshots directory.
func ValidateSnapshotName(name string) error {
	if !validID(name) {
		return fmt.Errorf("%w %q: use 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit", ErrInvalidSnapshotName, name)
	}
	return nil
}

// existingSandboxDir is sandboxDir for a sandbox that must exist.
func existingSandboxDir(stateDir, id string) (string, error) {
	dir, err := sandboxDir(stateDir, id)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("sandbox %s: %w", id, ErrNotExist)
	}
	return dir, nil
}

// Snapshot copies sandbox id's upper layer to snapshots/name. The caller
// keeps the sandbox still (frozen or stopped) while it runs.
func Snapshot(stateDir, id, name string, opts CopyOptions) (*SnapshotInfo, error) {
	if err := ValidateSnapshotName(name); err != nil {
		return nil, err
	}
	dir, err := existingSandboxDir(stateDir, id)
	if err != nil {
		return nil, err
	}
	snaps := filepath.Join(dir, snapshotsDir)
	final := filepath.Join(snaps, name)
	if _, err := os.Stat(final); err == nil {
		return nil, fmt.Errorf("snapshot %s of %s: %w", name, id, ErrExist)
	}
	if err := os.MkdirAll(snaps, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(snaps, ".tmp-"+name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	st, err := CopyTree(filepath.Join(dir, "upper"), filepath.Join(tmp, "upper"), opts)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s of %s: %w", name, id, err)
	}
	info := &SnapshotInfo{Name: name, Created: time.Now().UTC(), Size: st.Bytes, Files: st.Files, Copy: st}
	if err := writeJSONFile(filepath.Join(tmp, "meta.json"), info); err != nil {
		return nil, fmt.Errorf("snapshot %s of %s: %w", name, id, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("snapshot %s of %s: %w", name, id, err)
	}
	return info, nil
}

// Snapshots lists the complete snapshots of sandbox id, oldest first.
func Snapshots(stateDir, id string) ([]SnapshotInfo, error) {
	dir, err := existingSandboxDir(stateDir, id)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(dir, snapshotsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return []SnapshotInfo{}, nil
	} else if err != nil {
		return nil, err
	}
	out := []SnapshotInfo{}
	for _, e := range entries {
		if ValidateSnapshotName(e.Name()) != nil {
			continue // .tmp-* leftovers of an interrupted snapshot
		}
		var info SnapshotInfo
		data, err := os.ReadFile(filepath.Join(dir, snapshotsDir, e.Name(), "meta.json"))
		if err != nil || json.Unmarshal(data, &info) != nil {
			continue
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// RemoveSnapshot deletes snapshots/name of sandbox id.
func RemoveSnapshot(stateDir, id, name string) error {
	path, err := snapshotPath(stateDir, id, name)
	if err != nil {
		return err
	}
	// Rename first, so a crash mid-delete leaves a .tmp-* (ignored), never
	// a snapshot with half its files. The name is unique: one a crash left
	// behind does not block deleting a later snapshot of the same name.
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".tmp-rm-"+name+"-")
	if err != nil {
		return err
	}
	if err := os.Rename(path, filepath.Join(tmp, name)); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.RemoveAll(tmp)
}

// StatSnapshot fails with [ErrSnapshotNotExist] unless sandbox id has a
// snapshot called name.
func StatSnapshot(stateDir, id, name string) error {
	_, err := snapshotPath(stateDir, id, name)
	return err
}

func snapshotPath(stateDir, id, name string) (string, error) {
	if err := ValidateSnapshotName(name); err != nil {
		return "", err
	}
	dir, err := existingSandboxDir(stateDir, id)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, snapshotsDir, name)
	if _, err := os.Stat(filepath.Join(path, "meta.json")); err != nil {
		return "", fmt.Errorf("snapshot %s of sandbox %s: %w", name, id, ErrSnapshotNotExist)
	}
	return path, nil
}

// ReplaceUpper makes the upper layer of sandbox dstID a copy of snapshot
// name of sandbox srcID (the same sandbox for a restore, another for a
// fork). The sandbox must be unmounted ([Unmount]); [Remount] it after. The
// new layer is copied beside the old one and swapped in by renames, so a
// failure (a full disk) leaves the old layer in place.
func ReplaceUpper(stateDir, srcID, name, dstID string, opts CopyOptions) (CopyStats, error) {
	snap, err := snapshotPath(stateDir, srcID, name)
	if err != nil {
		return CopyStats{}, err
	}
	return replaceUpperFrom(stateDir, dstID, filepath.Join(snap, "upper"), opts)
}

// CopyUpper makes the upper layer of sandbox dstID a copy of the live upper
// layer of srcID (kept still by the caller); dstID must be unmounted.
func CopyUpper(stateDir, srcID, dstID string, opts CopyOptions) (CopyStats, error) {
	src, err := existingSandboxDir(stateDir, srcID)
	if err != nil {
		return CopyStats{}, err
	}
	return replaceUpperFrom(stateDir, dstID, filepath.Join(src, "upper"), opts)
}

func replaceUpperFrom(stateDir, dstID, from string, opts CopyOptions) (CopyStats, error) {
	dir, err := existingSandboxDir(stateDir, dstID)
	if err != nil {
		return CopyStats{}, err
	}
	// Swapping the upper layer under a mounted overlay would delete the
	// live layer below it.
	if err := checkUnmounted(dir, dstID); err != nil {
		return CopyStats{}, err
	}
	next := filepath.Join(dir, "upper.next")
	if err := os.RemoveAll(next); err != nil { // left by an interrupted restore
		return CopyStats{}, err
	}
	st, err := CopyTree(from, next, opts)
	if err != nil {
		os.RemoveAll(next)
		return st, err
	}
	// Swap the new layer in atomically: at every moment there is a
	// complete upper layer, the old or the new.
	upper := filepath.Join(dir, "upper")
	if err := unix.Renameat2(unix.AT_FDCWD, next, unix.AT_FDCWD, upper, unix.RENAME_EXCHANGE); err != nil {
		os.RemoveAll(next)
		return st, fmt.Errorf("swapping in the new upper layer: %w", err)
	}
	// The old layer is deleted in the background: freeing a large layer's
	// blocks takes about as long as copying them, and nothing needs to
	// wait for it. A crash leaves a trash-* directory, deleted with the
	// sandbox.
	trash := filepath.Join(dir, fmt.Sprintf("trash-%d", time.Now().UnixNano()))
	if err := os.Rename(next, trash); err != nil {
		return st, err
	}
	go os.RemoveAll(trash)
	// Remount starts overlayfs's work directories afresh (makeLayerDirs).
	return st, nil
}

// writeJSONFile writes v to path. Snapshots are not fsynced: the rename
// makes them appear whole or not at all to any process, and a daemon crash
// or a full disk leaves only a .tmp-* directory; flushing 100 MiB to disk
// would triple the time of a snapshot.
func writeJSONFile(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}
