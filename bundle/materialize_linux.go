package bundle

// The rootfs layout. A sandbox without a base must see the host's /usr (and
// any real /bin, /sbin, /lib* directory) read-only, with its own writes kept
// in its upper layer, and must not see the rest of the host's root. An
// overlay's lower directories are whole trees and overlayfs does not follow
// mounts inside a lower layer, so neither "lowerdir=/" (it would expose /root,
// /home, /var) nor bind mounts under a skeleton lower work; and a bind mount
// of /usr in config.json would send writes to the host. Materialize therefore
// mounts one overlay per directory, on the host, before the runtime starts:
//
//	rootfs/      overlay lowerdir=<skeleton>  upperdir=upper/rootfs  workdir=work/rootfs
//	rootfs/usr/  overlay lowerdir=/usr    upperdir=upper/usr     workdir=work/usr
//	rootfs/lib/  (only where /lib is a real directory, likewise /bin, /sbin, ...)
//
// <skeleton> (shared, see sharedSkeleton) is generated: /etc, /tmp, /root, empty mount points,
// and the host's symbolic links such as bin -> usr/bin. The runtime bind
// mounts rootfs recursively, so the nested overlays come along. Every write
// lands under upper/, which is what a snapshot copies. With a base rootfs
// there is a single overlay, lowerdir=<base>. Overlays are mounted with
// index=off so that an upper directory can be mounted again over a freshly
// generated skeleton (after a reboot, a restore or a fork), and volatile:
// the overlay never syncs its upper layer (unmounting one would otherwise
// flush every file the sandbox wrote), so what a sandbox wrote in the last
// seconds before a power loss may be lost, as with any unsynced write.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// testHookAfterMount, when set by a test, runs after the overlays are
// mounted; an error makes Materialize fail there.
var testHookAfterMount func() error

// Materialize creates sandbox id's bundle under stateDir: its directories,
// the overlay root file system (mounted), and config.json for args. The spec
// gets its defaults and is validated first. On any failure everything it
// created is unmounted and removed; an existing sandbox gives [ErrExist] and
// is left alone. The caller must be root.
func Materialize(stateDir, id string, spec *Spec, args []string) (*Bundle, error) {
	return materializeWith(stateDir, id, spec, args, false)
}

// MaterializeTransient is Materialize for a bundle that lives no longer than
// the run that makes it (a one-shot run), whose writable layer is thrown
// away: the sandbox directory is a tmpfs of its own, so the upper layer
// lives in memory, charged to the sandbox's memory cgroup as the sandbox
// writes it, and holds at most half the spec's memory limit: beyond that a
// write fails with ENOSPC, as on a full disk, before the files could leave
// the processes no memory (the OOM killer would end them instead). Nothing
// goes to disk, and [Remove] unmounts the tmpfs instead of deleting a tree:
// on this VM's ext4 the directories, the overlays' work directories and
// their deletion cost 5-8 ms of a 75 ms run.
func MaterializeTransient(stateDir, id string, spec *Spec, args []string) (*Bundle, error) {
	return materializeWith(stateDir, id, spec, args, true)
}

func materializeWith(stateDir, id string, spec *Spec, args []string, transient bool) (_ *Bundle, retErr error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	d := spec.WithDefaults()
	conf, err := d.OCI(TranslateOptions{Args: args})
	if err != nil {
		return nil, err
	}
	// Sandboxes' cgroups sit under one parent, apart from OCI containers
	// (whose default is /<id>) and from native sandboxes (/agentd-native).
	conf.Linux.CgroupsPath = CgroupParent + "/" + id
	if err := os.MkdirAll(filepath.Join(stateDir, sandboxesDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	dir, err := sandboxDir(stateDir, id)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(dir, ",:\\") {
		return nil, fmt.Errorf("sandbox dir %q contains ',', ':' or '\\', which overlayfs options cannot hold; choose another state dir", dir)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return nil, fmt.Errorf("creating sandbox dir: %w", err)
	}
	defer func() {
		if retErr != nil {
			if err := Remove(stateDir, id); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("cleaning up sandbox %s: %w", id, err))
			}
		}
	}()
	write := WriteFileAtomic
	if transient {
		opts := "mode=0700"
		if m := d.Limits.MemoryBytes; m > 0 {
			opts += fmt.Sprintf(",size=%d", m/2)
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return nil, fmt.Errorf("mounting the tmpfs of sandbox %s: %w", id, err)
		}
		write = ReplaceFile // nothing reads it after a crash or a reboot
	}
	b := newBundle(dir, id)
	if err := mountBundle(b, d); err != nil {
		return nil, fmt.Errorf("materializing sandbox %s: %w", id, err)
	}
	if err := makeWorkdir(b, d); err != nil {
		return nil, fmt.Errorf("creating workdir of sandbox %s: %w", id, err)
	}
	if testHookAfterMount != nil {
		if err := testHookAfterMount(); err != nil {
			return nil, err
		}
	}
	if err := writeConfig(b.Config, conf, write); err != nil {
		return nil, fmt.Errorf("writing config.json of sandbox %s: %w", id, err)
	}
	return b, nil
}

// Remount mounts the overlays of an existing sandbox again, keeping its upper
// layer: after a reboot, or after [Unmount] to restore or fork a snapshot.
// spec must be the one the sandbox was materialized with. config.json is
// not rewritten. On failure nothing stays mounted.
func Remount(stateDir, id string, spec *Spec) (_ *Bundle, retErr error) {
	d := spec.WithDefaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	dir, err := existingSandboxDir(stateDir, id)
	if err != nil {
		return nil, err
	}
	if err := checkUnmounted(dir, id); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, unmountAll(dir))
		}
	}()
	b := newBundle(dir, id)
	if err := mountBundle(b, d); err != nil {
		return nil, fmt.Errorf("mounting sandbox %s: %w", id, err)
	}
	return b, nil
}

// checkUnmounted fails if anything is mounted at or below sandbox id's
// directory dir.
func checkUnmounted(dir, id string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		return fmt.Errorf("sandbox %s is mounted at %s; call Unmount first", id, mounts[0].Mountpoint)
	}
	return nil
}

// Unmount unmounts everything under sandbox id's directory and keeps the
// files: not those of a transient sandbox, whose files are in the tmpfs it
// unmounts. It is a no-op for a sandbox that is not mounted or does not
// exist.
func Unmount(stateDir, id string) error {
	dir, err := sandboxDir(stateDir, id)
	if err != nil {
		return err
	}
	if err := unmountAll(dir); err != nil {
		return fmt.Errorf("unmounting sandbox %s: %w", id, err)
	}
	return nil
}

// Remove unmounts everything under sandbox id's directory, deepest first,
// and deletes the directory. It succeeds for a sandbox that does not exist
// or was half materialized. It never deletes through a mount point: if
// anything stays mounted it fails and deletes nothing.
func Remove(stateDir, id string) error {
	dir, err := sandboxDir(stateDir, id)
	if err != nil {
		return err
	}
	// A transient sandbox's directory is its tmpfs: unmounting it (busy
	// with the overlays inside, so detached) takes them along in one call,
	// where unmounting each waits for an RCU grace period of its own. For
	// other sandboxes it is a no-op; unmountAll checks nothing is left.
	if err := unmount(dir); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	if err := unmountAll(dir); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	return nil
}

// mountBundle plans b's layers for spec s (defaults applied), creates the
// directories that are missing and mounts the overlays. Existing upper
// directories are kept; the skeleton is generated afresh.
func mountBundle(b *Bundle, s *Spec) error {
	for _, p := range []string{b.Rootfs, b.Upper, b.Work} {
		if err := mkdirIfMissing(p, 0o700); err != nil {
			return err
		}
	}
	if err := planLayers(b, s); err != nil {
		return err
	}
	for _, l := range b.Layers {
		if err := makeLayerDirs(l); err != nil {
			return err
		}
	}
	return mountLayers(b)
}

// planLayers sets b.Layers: the base rootfs, or the generated skeleton plus
// one layer per real host system directory.
func planLayers(b *Bundle, s *Spec) error {
	layer := func(target, lower, name string) Layer {
		return Layer{Target: target, Lower: lower,
			Upper: filepath.Join(b.Upper, name), Work: filepath.Join(b.Work, name)}
	}
	if s.Base != nil {
		base := filepath.Clean(s.Base.Rootfs)
		if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
			return &FieldError{Field: "base.rootfs", Msg: fmt.Sprintf("%q is not an existing directory; give the path of an unpacked root file system", base)}
		}
		b.Layers = []Layer{layer("/", base, "rootfs")}
		return nil
	}
	// b.Dir is <stateDir>/sandboxes/<id>; the skeleton is shared per state dir.
	lower, dirs, err := sharedSkeleton(filepath.Dir(filepath.Dir(b.Dir)), s.Hostname)
	if err != nil {
		return err
	}
	b.Layers = []Layer{layer("/", lower, "rootfs")}
	for _, d := range dirs {
		b.Layers = append(b.Layers, layer(d, d, filepath.Base(d)))
	}
	return nil
}

// makeLayerDirs creates l's upper and work directories if missing. A new
// upper directory takes the owner and mode of the lower one, because the
// overlay's root directory shows the upper's attributes.
func makeLayerDirs(l Layer) error {
	// A volatile overlay leaves work/work/incompat/volatile behind and
	// refuses to mount over it; work holds nothing worth keeping.
	if err := os.RemoveAll(l.Work); err != nil {
		return err
	}
	if err := mkdirIfMissing(l.Work, 0o700); err != nil {
		return err
	}
	if _, err := os.Lstat(l.Upper); err == nil {
		return nil
	}
	if err := os.Mkdir(l.Upper, 0o755); err != nil {
		return err
	}
	return copyOwnerMode(l.Lower, l.Upper)
}

// makeWorkdir creates s.Workdir inside the mounted rootfs, owned by the
// sandbox's user, when the user is not root and the directory is missing;
// runc would create it owned by root, and the user could not write there.
func makeWorkdir(b *Bundle, s *Spec) error {
	if s.User == nil || s.User.UID == 0 {
		return nil
	}
	p, err := securejoin.SecureJoin(b.Rootfs, s.Workdir)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return err
	}
	return os.Chown(p, int(s.User.UID), int(s.User.GID))
}

func mkdirIfMissing(p string, mode fs.FileMode) error {
	if err := os.Mkdir(p, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// mountLayers mounts b.Layers in order, the root first.
func mountLayers(b *Bundle) error {
	for _, l := range b.Layers {
		target := b.Rootfs
		if l.Target != "/" {
			var err error
			if target, err = securejoin.SecureJoin(b.Rootfs, l.Target); err != nil {
				return err
			}
		}
		data := "lowerdir=" + l.Lower + ",upperdir=" + l.Upper + ",workdir=" + l.Work + ",index=off,volatile"
		if err := unix.Mount("overlay", target, "overlay", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
			return fmt.Errorf("mounting overlay on %s (lowerdir %s): %w", target, l.Lower, err)
		}
	}
	return nil
}

// unmountAll unmounts every mount at or below dir, deepest first, falling
// back to a lazy detach for a busy one. Mounts stacked on one mount point
// take several passes.
func unmountAll(dir string) error {
	for range 8 {
		mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
		if err != nil {
			return err
		}
		if len(mounts) == 0 {
			return nil
		}
		slices.SortFunc(mounts, func(a, b *mountinfo.Info) int {
			return strings.Count(b.Mountpoint, "/") - strings.Count(a.Mountpoint, "/")
		})
		for _, m := range mounts {
			if err := unmount(m.Mountpoint); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("mounts remain under %s after repeated unmounting", dir)
}

func unmount(p string) error {
	err := unix.Unmount(p, unix.UMOUNT_NOFOLLOW)
	switch {
	case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
		// EINVAL: no longer a mount point (already unmounted).
		return nil
	case errors.Is(err, unix.EBUSY):
		if err := unix.Unmount(p, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("detaching %s: %w", p, err)
		}
		return nil
	default:
		return fmt.Errorf("unmounting %s: %w", p, err)
	}
}
