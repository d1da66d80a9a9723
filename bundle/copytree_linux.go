package bundle

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CopyOptions tune CopyTree.
type CopyOptions struct {
	// Workers copy file contents in parallel (default: 2 × CPUs, at most 8).
	Workers int
	// Progress, if set, is called from time to time with the figures so far.
	Progress func(CopyStats)
}

// CopyStats are the figures of a copy.
type CopyStats struct {
	Files    int64         `json:"files"`
	Dirs     int64         `json:"dirs"`
	Bytes    int64         `json:"bytes"`
	Duration time.Duration `json:"durationNs"`
}

// CopyTree copies the tree at src to dst, which must not exist, keeping
// everything an overlayfs upper layer holds: owners, modes (with setuid,
// setgid, sticky), access and modification times, extended attributes
// (trusted.overlay.opaque, trusted.overlay.redirect, security.*), hard
// links, symbolic links, device nodes (whiteouts are 0/0 character
// devices), FIFOs and sockets, and holes in sparse files. File contents
// are cloned (FICLONE) where the file system can, else copied in kernel
// with copy_file_range, data segment by data segment, by parallel workers.
// On error dst may be partly written; the caller removes it.
func CopyTree(src, dst string, opts CopyOptions) (CopyStats, error) {
	start := time.Now()
	c := &copier{opts: opts, links: map[fileID]string{}}
	if c.opts.Workers <= 0 {
		c.opts.Workers = min(2*runtime.NumCPU(), 8)
	}
	c.jobs = make(chan copyJob, 64)
	for range c.opts.Workers {
		c.wg.Add(1)
		go c.worker()
	}
	walkErr := c.walk(src, dst)
	close(c.jobs)
	c.wg.Wait()
	st := c.stats(start)
	if err := errors.Join(walkErr, c.firstErr()); err != nil {
		return st, err
	}
	// Directory times last: creating entries inside changed them.
	for i := len(c.dirs) - 1; i >= 0; i-- {
		if err := copyMeta(c.dirs[i].src, c.dirs[i].dst, c.dirs[i].fi); err != nil {
			return st, err
		}
	}
	return c.stats(start), nil
}

type fileID struct{ dev, ino uint64 }

type copyJob struct {
	src, dst string
	fi       fs.FileInfo
}

type copier struct {
	opts  CopyOptions
	jobs  chan copyJob
	wg    sync.WaitGroup
	links map[fileID]string // first copy of each multiply-linked inode
	dirs  []copyJob

	files, ndirs, bytes atomic.Int64
	errMu               sync.Mutex
	err                 error
	lastReport          atomic.Int64
}

func (c *copier) stats(start time.Time) CopyStats {
	return CopyStats{Files: c.files.Load(), Dirs: c.ndirs.Load(), Bytes: c.bytes.Load(), Duration: time.Since(start)}
}

func (c *copier) setErr(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
}

func (c *copier) firstErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// walk creates directories, links and special files itself, in order, and
// hands regular files to the workers.
func (c *copier) walk(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := c.firstErr(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return c.entry(path, target, fi)
	})
}

func (c *copier) entry(src, dst string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	switch fi.Mode().Type() {
	case fs.ModeDir:
		// Owner-writable until the end, so that read-only directories
		// can still be filled; copyMeta sets the real mode last.
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		c.ndirs.Add(1)
		c.dirs = append(c.dirs, copyJob{src, dst, fi})
		return nil
	case fs.ModeSymlink:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case 0: // regular file
		if st.Nlink > 1 {
			id := fileID{st.Dev, st.Ino}
			if first, ok := c.links[id]; ok {
				c.files.Add(1)
				return os.Link(first, dst)
			}
			c.links[id] = dst
		}
		// Create it here so that a later hard link to it finds it.
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		f.Close()
		c.jobs <- copyJob{src, dst, fi}
		return nil
	default: // devices (whiteouts), FIFOs, sockets
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", dst, err)
		}
	}
	c.files.Add(1)
	return copyMeta(src, dst, fi)
}

func (c *copier) worker() {
	defer c.wg.Done()
	for j := range c.jobs {
		if c.firstErr() != nil {
			continue // drain
		}
		n, err := copyContents(j.src, j.dst, j.fi.Size())
		if err == nil {
			err = copyMeta(j.src, j.dst, j.fi)
		}
		if err != nil {
			c.setErr(fmt.Errorf("copying %s: %w", j.src, err))
			continue
		}
		c.files.Add(1)
		c.bytes.Add(n)
		c.report()
	}
}

// report calls Progress at most every 100ms.
func (c *copier) report() {
	if c.opts.Progress == nil {
		return
	}
	now := time.Now().UnixNano()
	last := c.lastReport.Load()
	if now-last < int64(100*time.Millisecond) || !c.lastReport.CompareAndSwap(last, now) {
		return
	}
	c.opts.Progress(CopyStats{Files: c.files.Load(), Dirs: c.ndirs.Load(), Bytes: c.bytes.Load()})
}

// copyContents fills dst (already created, empty) with src's data: a
// clone if the file system shares extents, else the data segments only, so
// holes stay holes.
func copyContents(src, dst string, size int64) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	if size == 0 {
		return 0, out.Close()
	}
	if unix.IoctlFileClone(int(out.Fd()), int(in.Fd())) == nil {
		return size, out.Close()
	}
	var copied int64
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		} else if err != nil {
			return copied, err
		}
		hole, err := unix.Seek(int(in.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return copied, err
		}
		n, err := copyRange(in, out, data, hole-data)
		copied += n
		if err != nil {
			return copied, err
		}
		off = hole
	}
	// A trailing hole: give the file its full length.
	if err := out.Truncate(size); err != nil {
		return copied, err
	}
	return copied, out.Close()
}

// copyRange copies n bytes at off from in to the same offset of out.
func copyRange(in, out *os.File, off, n int64) (int64, error) {
	var done int64
	for done < n {
		roff, woff := off+done, off+done
		k, err := unix.CopyFileRange(int(in.Fd()), &roff, int(out.Fd()), &woff, int(n-done), 0)
		if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
			k, err := copyRangeUser(in, out, off+done, n-done)
			return done + k, err
		}
		if err != nil {
			return done, err
		}
		if k == 0 {
			return done, io.ErrUnexpectedEOF
		}
		done += int64(k)
	}
	return done, nil
}

func copyRangeUser(in, out *os.File, off, n int64) (int64, error) {
	return io.Copy(io.NewOffsetWriter(out, off), io.NewSectionReader(in, off, n))
}

// copyMeta gives dst src's extended attributes, owner, mode and times.
// The order matters: chown clears setuid bits, so the mode comes after it.
func copyMeta(src, dst string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSymlink {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(src, buf)
	if err != nil {
		return err
	}
	for _, name := range splitNul(buf[:size]) {
		vsize, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			return fmt.Errorf("xattr %s of %s: %w", name, src, err)
		}
		val := make([]byte, vsize)
		if vsize, err = unix.Lgetxattr(src, name, val); err != nil {
			return fmt.Errorf("xattr %s of %s: %w", name, src, err)
		}
		if err := unix.Lsetxattr(dst, name, val[:vsize], 0); err != nil {
			return fmt.Errorf("xattr %s on %s: %w", name, dst, err)
		}
	}
	return nil
}

func splitNul(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			out = append(out, string(b[:i]))
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
