package bundle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// makeUpperTree builds a tree with everything an overlay upper layer can
// hold. The parts that need root (whiteouts, trusted.* xattrs, other
// owners) are added only as root, and whiteouts and trusted.overlay.*
// xattrs only outside an overlay (onOverlay false), which refuses them.
func makeUpperTree(t *testing.T, dir string, onOverlay bool) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "etc/sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "etc/file"), []byte("hello"), 0o640))
	must(os.Link(filepath.Join(dir, "etc/file"), filepath.Join(dir, "etc/hardlink")))
	must(os.Symlink("../etc/file", filepath.Join(dir, "etc/sub/link")))
	must(os.Symlink("/dangling/target", filepath.Join(dir, "dangling")))
	must(os.WriteFile(filepath.Join(dir, "setuid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chmod(filepath.Join(dir, "setuid"), 0o4755|fs.ModeSetuid))
	must(unix.Chmod(filepath.Join(dir, "setuid"), 0o4755))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	must(unix.Setxattr(filepath.Join(dir, "etc/file"), "user.note", []byte("kept"), 0))
	// A sparse file: 4 MiB hole, 5 bytes of data, 4 MiB hole.
	f, err := os.Create(filepath.Join(dir, "sparse"))
	must(err)
	_, err = f.WriteAt([]byte("data!"), 4<<20)
	must(err)
	must(f.Truncate(8 << 20))
	must(f.Close())
	must(os.Mkdir(filepath.Join(dir, "readonly"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "readonly/inside"), []byte("x"), 0o444))
	must(os.Chmod(filepath.Join(dir, "readonly"), 0o555))
	if os.Geteuid() == 0 && !onOverlay {
		must(unix.Mknod(filepath.Join(dir, "whiteout"), unix.S_IFCHR|0o000, 0))
		must(os.Mkdir(filepath.Join(dir, "opaque"), 0o755))
		must(unix.Setxattr(filepath.Join(dir, "opaque"), "trusted.overlay.opaque", []byte("y"), 0))
	}
	if os.Geteuid() == 0 {
		must(os.Lchown(filepath.Join(dir, "etc/sub/link"), 1000, 1000))
		must(os.Chown(filepath.Join(dir, "etc/sub"), 65534, 65534))
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	for _, p := range []string{"etc/file", "sparse", "etc/sub", "fifo"} {
		must(os.Chtimes(filepath.Join(dir, p), old, old))
	}
	must(unix.Lutimes(filepath.Join(dir, "dangling"), []unix.Timeval{unix.NsecToTimeval(old.UnixNano()), unix.NsecToTimeval(old.UnixNano())}))
}

// describeTree lists every entry with its type, mode, owner, size, mtime,
// link target, device, xattrs, contents and hard-link group: everything
// that must survive a copy.
func describeTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s mode=%o uid=%d gid=%d rdev=%d", rel, st.Mode, st.Uid, st.Gid, st.Rdev)
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			line += fmt.Sprintf(" size=%d mtime=%d", st.Size, st.Mtim.Nano())
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(path)
			line += " -> " + target
		} else if d.Type().IsRegular() {
			data, _ := os.ReadFile(path)
			line += fmt.Sprintf(" sha256=%x", sha256.Sum256(data))
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					line += " hardlink-of=" + first
				} else {
					inodes[st.Ino] = rel
				}
			}
		}
		line += " xattrs=" + xattrList(path)
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func xattrList(path string) string {
	buf := make([]byte, 4096)
	n, _ := unix.Llistxattr(path, buf)
	var out []string
	for _, name := range splitNul(buf[:max(n, 0)]) {
		val := make([]byte, 256)
		k, _ := unix.Lgetxattr(path, name, val)
		out = append(out, name+"="+string(val[:max(k, 0)]))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestCopyTreeKeepsEverything(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	os.Mkdir(src, 0o755)
	makeUpperTree(t, src, false)
	dst := filepath.Join(t.TempDir(), "dst")
	var progress atomic.Int32 // the workers report concurrently
	st, err := CopyTree(src, dst, CopyOptions{Workers: 3, Progress: func(CopyStats) { progress.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if progress.Load() == 0 {
		t.Error("Progress was never called")
	}
	if got, want := describeTree(t, dst), describeTree(t, src); got != want {
		t.Errorf("copy differs from source:\n got:\n%s\nwant:\n%s", got, want)
	}
	// Directory times (left out of describeTree, whose overlay users change
	// them) are kept too: set last, after the directory was filled.
	var sub unix.Stat_t
	if err := unix.Stat(filepath.Join(dst, "etc/sub"), &sub); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC); sub.Mtim.Nano() != want.UnixNano() {
		t.Errorf("etc/sub mtime %v, want the source's %v", time.Unix(0, sub.Mtim.Nano()).UTC(), want)
	}
	if st.Bytes < 10 || st.Files < 6 || st.Dirs < 3 {
		t.Errorf("stats %+v look too small", st)
	}
	var sparse unix.Stat_t
	unix.Stat(filepath.Join(dst, "sparse"), &sparse)
	if sparse.Blocks*512 > 1<<20 {
		t.Errorf("sparse file copied densely: %d bytes allocated for 8 MiB with 5 bytes of data", sparse.Blocks*512)
	}
	if _, err := CopyTree(src, dst, CopyOptions{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("copy onto an existing destination: %v, want ErrExist", err)
	}
}

func TestCopyTreeFullDisk(t *testing.T) {
	mnt := smallTmpfs(t, "1m")
	src := t.TempDir()
	big := bytes.Repeat([]byte("x"), 3<<20)
	if err := os.WriteFile(filepath.Join(src, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := CopyTree(src, filepath.Join(mnt, "dst"), CopyOptions{})
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("copying 3 MiB onto a 1 MiB tmpfs: %v, want ENOSPC", err)
	}
}

// BenchmarkCopyTree copies an upper-like tree of 1,000 files / 100 MiB;
// BenchmarkCpA runs `cp -a` of the same tree for comparison.
func BenchmarkCopyTree(b *testing.B) {
	src := benchTree(b)
	for i := 0; b.Loop(); i++ {
		settle(b)
		dst := filepath.Join(b.TempDir(), "dst")
		if _, err := CopyTree(src, dst, CopyOptions{}); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dst)
	}
}

func BenchmarkCpA(b *testing.B) {
	src := benchTree(b)
	for i := 0; b.Loop(); i++ {
		settle(b)
		dst := filepath.Join(b.TempDir(), "dst")
		if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
			b.Fatalf("cp -a: %v %s", err, out)
		}
		os.RemoveAll(dst)
	}
}

// smallTmpfs mounts a tmpfs of size on a temporary directory, unmounted when
// the test ends: a disk that fills up. It needs root.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// settle flushes dirty pages, outside the timing, so that every timed copy
// starts from the same writeback state: otherwise each run pays for the
// previous runs' 100 MiB and the figures swing by 3x.
func settle(b *testing.B) {
	b.StopTimer()
	unix.Sync()
	b.StartTimer()
}

// benchTree makes 1,000 files in 10 directories totalling 100 MiB.
func benchTree(b *testing.B) string {
	b.Helper()
	src := filepath.Join(b.TempDir(), "src")
	data := bytes.Repeat([]byte("0123456789abcdef"), (100<<20)/1000/16)
	for i := range 1000 {
		d := filepath.Join(src, fmt.Sprintf("d%d", i%10))
		os.MkdirAll(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return src
}

// BenchmarkSnapshot and BenchmarkRestore take and restore a snapshot of a
// mounted sandbox whose upper layer holds 1,000 files / 100 MiB, to set
// against BenchmarkCpA of the same tree.
func BenchmarkSnapshot(b *testing.B) {
	state, _ := benchSandbox(b)
	for i := 0; b.Loop(); i++ {
		settle(b)
		name := fmt.Sprintf("s%d", i)
		if _, err := Snapshot(state, "bench", name, CopyOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		RemoveSnapshot(state, "bench", name)
		b.StartTimer()
	}
}

func BenchmarkRestore(b *testing.B) {
	state, spec := benchSandbox(b)
	if _, err := Snapshot(state, "bench", "base", CopyOptions{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		settle(b)
		if err := Unmount(state, "bench"); err != nil {
			b.Fatal(err)
		}
		if _, err := ReplaceUpper(state, "bench", "base", "bench", CopyOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := Remount(state, "bench", spec); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSandbox materializes a sandbox and fills its upper layer through
// the mounted root with the tree of benchTree.
func benchSandbox(b *testing.B) (string, *Spec) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root for overlay mounts")
	}
	state, spec := b.TempDir(), &Spec{}
	bd, err := Materialize(state, "bench", spec, []string{"true"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { Remove(state, "bench") })
	src := benchTree(b)
	if out, err := exec.Command("cp", "-a", src, filepath.Join(bd.Rootfs, "tmp/work")).CombinedOutput(); err != nil {
		b.Fatalf("filling the sandbox: %v %s", err, out)
	}
	return state, spec
}
