package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// skeletonsDir, under the state directory, holds the generated lower layers
// of sandboxes without a base. A skeleton is read-only once made and is
// shared by every sandbox whose inputs (host links, /etc files, hostname)
// hash the same, so a new sandbox costs a few mounts rather than hundreds
// of file creations (Debian's /etc/alternatives alone has ~400 links).
const skeletonsDir = "skeletons"

// sharedSkeleton returns the skeleton for hostname under stateDir, making it
// (atomically: temp dir, then rename) if this host's inputs have none yet,
// and the host system directories that need overlays of their own.
func sharedSkeleton(stateDir, hostname string) (string, []string, error) {
	key, dirs, err := skeletonKey("/etc", hostname)
	if err != nil {
		return "", nil, err
	}
	parent := filepath.Join(stateDir, skeletonsDir)
	dir := filepath.Join(parent, key)
	if _, err := os.Stat(dir); err == nil {
		return dir, dirs, nil
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", nil, err
	}
	if dirs, err = writeSkeleton(tmp, hostname); err != nil {
		return "", nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr != nil { // not a lost race: a real failure
			return "", nil, err
		}
	}
	return dir, dirs, nil
}

// skeletonKey hashes what writeSkeleton takes from the host (the system
// directories, the files of etc named in hostEtcFiles, etc/alternatives)
// and returns it with the systemDirs that are real directories here.
//
// Files stand for themselves through their identity, size and times, as in
// make or git's index: a change of content changes ctime (which no program
// can set back) and a replacement changes the inode. Reading and hashing
// their content (220 KB, most of it the CA bundle) took a third of a
// one-shot sandbox's Materialize. Likewise the links in etc/alternatives
// (hundreds) stand for themselves through the directory's identity and
// times: a symbolic link cannot be rewritten in place, so adding, removing
// or retargeting one (update-alternatives renames a new link over the old)
// changes the directory's mtime.
func skeletonKey(etc, hostname string) (string, []string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "v2\x00%s\x00", hostname)
	var dirs []string
	for _, sd := range systemDirs {
		fi, err := os.Lstat(sd)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return "", nil, err
		}
		target, _ := os.Readlink(sd)
		fmt.Fprintf(h, "%s\x00%v\x00%s\x00", sd, fi.Mode().Type(), target)
		if fi.IsDir() {
			dirs = append(dirs, sd)
		}
	}
	identity := func(name string, stat func(string, *syscall.Stat_t) error) {
		var st syscall.Stat_t
		if stat(filepath.Join(etc, name), &st) != nil {
			fmt.Fprintf(h, "%s\x00-\x00", name)
			return
		}
		fmt.Fprintf(h, "%s\x00%d:%d\x00%o\x00%d\x00%d.%d\x00%d.%d\x00", name, st.Dev, st.Ino,
			st.Mode, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
	}
	for _, name := range hostEtcFiles {
		identity(name, syscall.Stat) // through a link such as resolv.conf's
	}
	identity("alternatives", syscall.Lstat)
	return hex.EncodeToString(h.Sum(nil))[:24], dirs, nil
}

// systemDirs are the host directories a sandbox without a base sees. Each
// is mirrored as it is on the host: a symbolic link (merged-/usr systems
// link /bin to usr/bin) is recreated as the same link; a real directory
// becomes an overlay of its own, read-only below, writable into the
// sandbox's upper layer.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// hostEtcFiles are copied into the generated /etc when the host has them.
// None holds a secret: name resolution, the dynamic linker's cache, the
// protocol and service tables and the public CA bundle.
var hostEtcFiles = []string{
	"resolv.conf", "ld.so.cache", "protocols", "services", "ssl/certs/ca-certificates.crt",
}

const nsswitchConf = `passwd:    files
group:     files
shadow:    files
hosts:     files dns
networks:  files
protocols: files
services:  files
ethers:    files
rpc:       files
`

// writeSkeleton fills dir, the sandbox's generated lower layer, and returns
// the host system directories that are real directories; each needs an
// overlay of its own over its empty mount point in dir. Nothing from the
// host beyond systemDirs, hostEtcFiles and the /etc/alternatives links is
// made visible: no /root, /home, /var, /run or /etc/shadow.
func writeSkeleton(dir, hostname string) ([]string, error) {
	for _, d := range []struct {
		name string
		mode fs.FileMode
	}{{"etc", 0o755}, {"proc", 0o755}, {"sys", 0o755}, {"dev", 0o755}, {"tmp", 0o1777}, {"root", 0o700}} {
		p := filepath.Join(dir, d.name)
		if err := os.Mkdir(p, d.mode); err != nil {
			return nil, err
		}
		// Mkdir applies the umask; /tmp must end up 1777.
		if err := os.Chmod(p, d.mode); err != nil {
			return nil, err
		}
	}
	dirs, err := mirrorSystemDirs(dir)
	if err != nil {
		return nil, err
	}
	if err := writeEtc(filepath.Join(dir, "etc"), hostname); err != nil {
		return nil, fmt.Errorf("generating /etc: %w", err)
	}
	return dirs, nil
}

// mirrorSystemDirs recreates each of systemDirs in dir and returns those
// that are real directories.
func mirrorSystemDirs(dir string) ([]string, error) {
	var dirs []string
	for _, sd := range systemDirs {
		fi, err := os.Lstat(sd)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		dst := filepath.Join(dir, sd)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(sd)
			if err != nil {
				return nil, err
			}
			if err := os.Symlink(target, dst); err != nil {
				return nil, err
			}
		case fi.IsDir():
			if err := os.Mkdir(dst, 0o755); err != nil {
				return nil, err
			}
			dirs = append(dirs, sd)
		}
	}
	return dirs, nil
}

// writeEtc generates a minimal /etc in dir.
func writeEtc(dir, hostname string) error {
	files := map[string]string{
		"passwd": "root:x:0:0:root:/root:/bin/sh\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"group":         "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
		"hosts":         "127.0.0.1\tlocalhost " + hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"hostname":      hostname + "\n",
		"nsswitch.conf": nsswitchConf,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, name := range hostEtcFiles {
		if err := copyHostFile(filepath.Join("/etc", name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	if err := os.Symlink("../proc/self/mounts", filepath.Join(dir, "mtab")); err != nil {
		return err
	}
	return mirrorAlternatives(filepath.Join(dir, "alternatives"))
}

// copyHostFile copies the host file src (following links) to dst, mode
// 0644; a missing src is not an error.
func copyHostFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// mirrorAlternatives recreates the links of Debian's /etc/alternatives, the
// indirection behind /usr/bin/awk, cc, which and others, so those commands
// resolve inside the sandbox.
func mirrorAlternatives(dst string) error {
	entries, err := os.ReadDir("/etc/alternatives")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(filepath.Join("/etc/alternatives", e.Name()))
		if err != nil {
			return err
		}
		if err := os.Symlink(target, filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// copyOwnerMode gives dst the owner and permission bits of src, so that an
// overlay's root directory (whose attributes come from its upper directory)
// looks like the host directory it overlays.
func copyOwnerMode(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return os.Chmod(dst, fi.Mode()&(fs.ModePerm|fs.ModeSticky|fs.ModeSetgid|fs.ModeSetuid))
}
