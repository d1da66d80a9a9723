package bundle

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSnapshotRestore changes a mounted sandbox in every way an upper layer
// records (new, changed and deleted files, a file deleted from the lower
// layer, hard links, xattrs, symlinks, sparse files), snapshots it, changes
// it more, restores, and compares the whole visible tree with the one at the
// snapshot, byte for byte and attribute for attribute.
func TestSnapshotRestore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for overlay mounts")
	}
	state := t.TempDir()
	b, err := Materialize(state, "snap", &Spec{}, []string{"true"})
	if err != nil {
		t.Fatal(err)
	}
	defer Remove(state, "snap")
	root := b.Rootfs
	work := filepath.Join(root, "tmp/work")
	os.Mkdir(work, 0o755)
	makeUpperTree(t, work, true)
	// Delete a file of the lower layer: the upper gets a whiteout; and
	// replace a lower directory: the upper gets an opaque directory.
	if err := os.Remove(filepath.Join(root, "etc/nsswitch.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "etc/alternatives")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(root, "etc/alternatives"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/alternatives/only"), []byte("opaque"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("changed\n"), 0o644)
	// The sandbox's own part of the tree (not the host's /usr below it).
	visible := func() string {
		return describeTree(t, filepath.Join(root, "etc")) + describeTree(t, filepath.Join(root, "tmp"))
	}
	want := visible()

	info, err := Snapshot(state, "snap", "s1", CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "s1" || info.Files == 0 {
		t.Errorf("snapshot info %+v", info)
	}
	if _, err := Snapshot(state, "snap", "s1", CopyOptions{}); !errors.Is(err, ErrExist) {
		t.Errorf("second snapshot with the same name: %v", err)
	}
	// Change more: a new file, a changed file, a restored-then-deleted one.
	os.WriteFile(filepath.Join(root, "tmp/new"), []byte("new"), 0o644)
	os.WriteFile(filepath.Join(work, "etc/file"), []byte("rewritten"), 0o644)
	os.Remove(filepath.Join(work, "etc/hardlink"))
	os.Remove(filepath.Join(root, "etc/passwd"))
	unix.Setxattr(filepath.Join(work, "etc/file"), "user.note", []byte("changed"), 0)
	if got := visible(); got == want {
		t.Fatal("the changes after the snapshot changed nothing visible")
	}

	// Still mounted: swapping the layer would pull it from under the overlay.
	if _, err := ReplaceUpper(state, "snap", "s1", "snap", CopyOptions{}); err == nil || !strings.Contains(err.Error(), "Unmount first") {
		t.Errorf("ReplaceUpper of a mounted sandbox: %v, want it refused", err)
	}
	if err := Unmount(state, "snap"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReplaceUpper(state, "snap", "s1", "snap", CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Remount(state, "snap", &Spec{}); err != nil {
		t.Fatal(err)
	}
	if got := visible(); got != want {
		t.Errorf("after restore the tree differs from the snapshot:\n got:\n%s\nwant:\n%s", got, want)
	}

	list, err := Snapshots(state, "snap")
	if err != nil || len(list) != 1 || list[0].Name != "s1" {
		t.Errorf("Snapshots = %+v, %v", list, err)
	}
	if err := RemoveSnapshot(state, "snap", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveSnapshot(state, "snap", "s1"); !errors.Is(err, ErrSnapshotNotExist) {
		t.Errorf("second removal: %v", err)
	}
	for _, bad := range []string{"../x", "a/b", "", ".."} {
		if _, err := Snapshot(state, "snap", bad, CopyOptions{}); !errors.Is(err, ErrInvalidSnapshotName) {
			t.Errorf("snapshot name %q: %v", bad, err)
		}
	}
}

// TestSnapshotDiskFull fills the disk mid-copy: the snapshot fails, no
// half snapshot is listed, and a restore that runs out of space keeps the
// old upper layer.
func TestSnapshotDiskFull(t *testing.T) {
	state := smallTmpfs(t, "24m")
	b, err := Materialize(state, "full", &Spec{}, []string{"true"})
	if err != nil {
		t.Fatal(err)
	}
	defer Remove(state, "full")
	big := make([]byte, 14<<20)
	for i := range big {
		big[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(b.Rootfs, "tmp/big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Snapshot(state, "full", "s1", CopyOptions{})
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("snapshot of 14 MiB with ~10 MiB free: %v, want ENOSPC", err)
	}
	if list, err := Snapshots(state, "full"); err != nil || len(list) != 0 {
		t.Errorf("a failed snapshot is listed: %+v, %v", list, err)
	}
	entries, _ := os.ReadDir(filepath.Join(b.Dir, snapshotsDir))
	if len(entries) != 0 {
		t.Errorf("a failed snapshot left %v behind", entries)
	}
	if data, err := os.ReadFile(filepath.Join(b.Rootfs, "tmp/big")); err != nil || len(data) != len(big) {
		t.Errorf("the sandbox's data changed after a failed snapshot: %d bytes, %v", len(data), err)
	}
}

// TestRestoreDiskFull runs out of space while restoring: the copy fails and
// the sandbox's current upper layer is kept as it was.
func TestRestoreDiskFull(t *testing.T) {
	state := smallTmpfs(t, "24m")
	spec := &Spec{}
	b, err := Materialize(state, "full", spec, []string{"true"})
	if err != nil {
		t.Fatal(err)
	}
	defer Remove(state, "full")
	write := func(name string, size int) []byte {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		if err := os.WriteFile(filepath.Join(b.Rootfs, "tmp", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return data
	}
	write("old", 7<<20)
	if _, err := Snapshot(state, "full", "s1", CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	current := write("current", 8<<20) // now ~2 MiB free: a 7 MiB restore cannot fit
	if err := Unmount(state, "full"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReplaceUpper(state, "full", "s1", "full", CopyOptions{}); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("restore onto a full disk: %v, want ENOSPC", err)
	}
	if _, err := Remount(state, "full", spec); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(b.Rootfs, "tmp/current")); err != nil || !bytes.Equal(data, current) {
		t.Errorf("after a failed restore the current files changed: %d bytes, %v", len(data), err)
	}
	if _, err := os.Stat(filepath.Join(b.Dir, "upper.next")); !os.IsNotExist(err) {
		t.Errorf("a failed restore left its partial copy: %v", err)
	}
}
