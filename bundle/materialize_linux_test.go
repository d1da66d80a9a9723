package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// requireOverlay skips unless the test runs as root. It does not look for
// overlayfs in /proc/filesystems: that lists loaded modules only, and the
// first mount loads overlay's; a kernel without it fails the test.
func requireOverlay(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount overlays")
	}
}

// materialize materializes a sandbox in a fresh state dir and removes it
// when the test ends.
func materialize(t *testing.T, spec *Spec, args ...string) (stateDir string, b *Bundle) {
	t.Helper()
	stateDir = t.TempDir()
	id := "t-" + strings.NewReplacer("/", "-", "#", "-").Replace(t.Name())
	if len(args) == 0 {
		args = []string{"/bin/sh"}
	}
	b, err := Materialize(stateDir, id, spec, args)
	if err != nil {
		t.Fatalf("Materialize: %v", err)
	}
	t.Cleanup(func() {
		if err := Remove(stateDir, id); err != nil {
			t.Errorf("Remove: %v", err)
		}
	})
	return stateDir, b
}

// mountsUnder lists the mount points at or below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	return out
}

// assertGone checks that nothing is mounted under dir and dir is gone.
func assertGone(t *testing.T, dir string) {
	t.Helper()
	if m := mountsUnder(t, dir); len(m) > 0 {
		t.Errorf("mounts left under %s: %v", dir, m)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still exists (err %v)", dir, err)
	}
}

func TestMaterializeHostBase(t *testing.T) {
	requireOverlay(t)
	_, b := materialize(t, &Spec{Hostname: "box"})
	name := "agentd-bundle-test-" + filepath.Base(b.Dir)
	t.Cleanup(func() { _ = os.Remove(filepath.Join("/usr", name)) })

	// Writes to /usr land in the sandbox's upper layer, not on the host.
	if err := os.WriteFile(filepath.Join(b.Rootfs, "usr", name), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/usr", name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write to rootfs/usr reached the host's /usr (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(b.Upper, "usr", name)); err != nil {
		t.Errorf("write to rootfs/usr is not in upper/usr: %v", err)
	}
	if err := os.WriteFile(filepath.Join(b.Rootfs, "etc", name), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.Upper, "rootfs", "etc", name)); err != nil {
		t.Errorf("write to rootfs/etc is not in upper/rootfs: %v", err)
	}

	// The host's system directories are visible, as they are on the host.
	if _, err := os.Stat(filepath.Join(b.Rootfs, "usr/bin/env")); err != nil {
		t.Errorf("host /usr/bin/env not visible: %v", err)
	}
	for _, d := range systemDirs {
		hostLink, hostErr := os.Readlink(d)
		gotLink, gotErr := os.Readlink(filepath.Join(b.Rootfs, d))
		if (hostErr == nil) != (gotErr == nil) || hostLink != gotLink {
			t.Errorf("%s: link %q (%v) in sandbox, %q (%v) on host", d, gotLink, gotErr, hostLink, hostErr)
		}
	}

	// The rest of the host is not.
	for _, d := range []string{"home", "var", "run", "etc/shadow", "etc/sudoers"} {
		if _, err := os.Lstat(filepath.Join(b.Rootfs, d)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("/%s is present in the sandbox (err %v)", d, err)
		}
	}
	if entries, err := os.ReadDir(filepath.Join(b.Rootfs, "root")); err != nil || len(entries) > 0 {
		t.Errorf("/root in the sandbox: %d entries, err %v; want an empty directory", len(entries), err)
	}
	passwd, err := os.ReadFile(filepath.Join(b.Rootfs, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(passwd), "\n"); got != 2 {
		t.Errorf("etc/passwd has %d lines, want root and nobody only:\n%s", got, passwd)
	}
	if hosts, _ := os.ReadFile(filepath.Join(b.Rootfs, "etc/hosts")); !bytes.Contains(hosts, []byte("box")) {
		t.Errorf("etc/hosts does not name the hostname:\n%s", hosts)
	}
	checkConfigFile(t, b)
}

// checkConfigFile checks config.json's mode and validity.
func checkConfigFile(t *testing.T, b *Bundle) {
	t.Helper()
	fi, err := os.Stat(b.Config)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(b.Config)
	if err != nil {
		t.Fatal(err)
	}
	var conf specs.Spec
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	checkRuntimeTools(t, &conf, b.Dir)
}

func TestMaterializeBaseRootfs(t *testing.T) {
	requireOverlay(t)
	base := t.TempDir()
	if err := os.WriteFile(filepath.Join(base, "hello"), []byte("base"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, b := materialize(t, &Spec{Base: &Base{Rootfs: base}})
	if got, err := os.ReadFile(filepath.Join(b.Rootfs, "hello")); err != nil || string(got) != "base" {
		t.Fatalf("rootfs/hello = %q, %v; want the base's file", got, err)
	}
	if err := os.WriteFile(filepath.Join(b.Rootfs, "hello"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(base, "hello")); string(got) != "base" {
		t.Errorf("the base rootfs was modified: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(b.Upper, "rootfs", "hello")); string(got) != "changed" {
		t.Errorf("upper/rootfs/hello = %q, want the sandbox's write", got)
	}
	if len(b.Layers) != 1 {
		t.Errorf("%d layers, want 1 for a base rootfs", len(b.Layers))
	}
}

func TestRemoveIsCompleteAndIdempotent(t *testing.T) {
	requireOverlay(t)
	stateDir := t.TempDir()
	b, err := Materialize(stateDir, "gone", &Spec{}, []string{"sh"})
	if err != nil {
		t.Fatal(err)
	}
	if len(mountsUnder(t, b.Dir)) < 2 {
		t.Fatalf("expected the rootfs and /usr overlays, got %v", mountsUnder(t, b.Dir))
	}
	for i := range 2 {
		if err := Remove(stateDir, "gone"); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
		assertGone(t, b.Dir)
	}
}

func TestRemoveHalfMaterialized(t *testing.T) {
	requireOverlay(t)
	stateDir := t.TempDir()
	dir := filepath.Join(stateDir, sandboxesDir, "half")
	inner := filepath.Join(dir, "rootfs", "usr")
	if err := os.MkdirAll(inner, 0o700); err != nil {
		t.Fatal(err)
	}
	// A tmpfs on rootfs, a stacked one, and one nested inside.
	for _, target := range []string{filepath.Join(dir, "rootfs"), filepath.Join(dir, "rootfs")} {
		if err := unix.Mount("tmpfs", target, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(inner, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", inner, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(stateDir, "half"); err != nil {
		t.Fatal(err)
	}
	assertGone(t, dir)
}

func TestMaterializeFailureLeavesNothing(t *testing.T) {
	requireOverlay(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec *Spec
		hook func() error
		want error
	}{
		{"base does not exist", &Spec{Base: &Base{Rootfs: "/nonexistent/rootfs"}}, nil, ErrInvalidSpec},
		{"base is a file", &Spec{Base: &Base{Rootfs: file}}, nil, ErrInvalidSpec},
		{"fails after mounting", &Spec{}, func() error { return errTestHook }, errTestHook},
		{"invalid spec", &Spec{Profile: "nope"}, nil, ErrInvalidSpec},
	}
	for _, tt := range tests {
		for _, m := range []struct {
			name string
			fn   func(string, string, *Spec, []string) (*Bundle, error)
		}{{"Materialize", Materialize}, {"MaterializeTransient", MaterializeTransient}} {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				testHookAfterMount = tt.hook
				defer func() { testHookAfterMount = nil }()
				stateDir := t.TempDir()
				_, err := m.fn(stateDir, "fail", tt.spec, []string{"sh"})
				if !errors.Is(err, tt.want) {
					t.Fatalf("%s error %v, want %v", m.name, err, tt.want)
				}
				assertGone(t, filepath.Join(stateDir, sandboxesDir, "fail"))
			})
		}
	}
}

// A one-shot sandbox's writable layer is in memory: its directory is a
// tmpfs of its own, which holds at most half the memory limit (a write
// beyond it fails with ENOSPC, as on a full disk), and Remove leaves
// nothing.
func TestMaterializeTransientInMemory(t *testing.T) {
	requireOverlay(t)
	stateDir := t.TempDir()
	spec := &Spec{Limits: Limits{MemoryBytes: 16 << 20}}
	b, err := MaterializeTransient(stateDir, "oneshot", spec, []string{"sh"})
	if err != nil {
		t.Fatal(err)
	}
	defer Remove(stateDir, "oneshot")
	for _, p := range []string{b.Dir, b.Upper, b.Work} {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Type != unix.TMPFS_MAGIC {
			t.Errorf("%s is on file system type %#x, want tmpfs", p, st.Type)
		}
	}
	// Written through the overlay, as the sandbox writes; /usr is its own
	// overlay, with its upper on the same tmpfs.
	small := filepath.Join(b.Rootfs, "usr", "small")
	if err := os.WriteFile(small, make([]byte, 2<<20), 0o644); err != nil {
		t.Fatalf("writing 2 MiB into a sandbox with 16 MiB of memory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b.Upper, "usr", "small")); err != nil {
		t.Errorf("the write is not in the upper layer: %v", err)
	}
	err = os.WriteFile(filepath.Join(b.Rootfs, "tmp", "big"), make([]byte, 8<<20), 0o644)
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("writing 8 MiB more into a sandbox with 16 MiB of memory: %v, want ENOSPC", err)
	}
	if err := Remove(stateDir, "oneshot"); err != nil {
		t.Fatal(err)
	}
	assertGone(t, b.Dir)
}

var errTestHook = errors.New("injected failure")

func TestMaterializeExistingIsLeftAlone(t *testing.T) {
	requireOverlay(t)
	stateDir, b := materialize(t, &Spec{})
	_, err := Materialize(stateDir, b.ID, &Spec{}, []string{"sh"})
	if !errors.Is(err, ErrExist) {
		t.Fatalf("second Materialize: %v, want ErrExist", err)
	}
	if _, err := os.Stat(filepath.Join(b.Rootfs, "usr/bin/env")); err != nil {
		t.Errorf("the existing sandbox was damaged: %v", err)
	}
}

func TestMaterializeRefusesBadIDs(t *testing.T) {
	stateDir := t.TempDir()
	for _, id := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("a", 129)} {
		if _, err := Materialize(stateDir, id, &Spec{}, []string{"sh"}); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Materialize(%q): %v, want ErrInvalidID", id, err)
		}
		if err := Remove(stateDir, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Remove(%q): %v, want ErrInvalidID", id, err)
		}
	}
	if entries, _ := os.ReadDir(stateDir); len(entries) > 0 {
		t.Errorf("bad ids created %d entries in the state dir", len(entries))
	}
}

func TestUnmountRemountKeepsUpper(t *testing.T) {
	requireOverlay(t)
	stateDir, b := materialize(t, &Spec{})
	if err := os.WriteFile(filepath.Join(b.Rootfs, "usr", "kept"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(stateDir, b.ID); err != nil {
		t.Fatal(err)
	}
	if m := mountsUnder(t, b.Dir); len(m) > 0 {
		t.Fatalf("mounts left after Unmount: %v", m)
	}
	if _, err := Remount(stateDir, b.ID, &Spec{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(b.Rootfs, "usr", "kept")); err != nil || string(got) != "v1" {
		t.Errorf("after Remount rootfs/usr/kept = %q, %v; want v1", got, err)
	}
	if _, err := Remount(stateDir, b.ID, &Spec{}); err == nil {
		t.Error("Remount of a mounted sandbox succeeded")
	}
	if _, err := Remount(stateDir, "missing", &Spec{}); !errors.Is(err, ErrNotExist) {
		t.Errorf("Remount of a missing sandbox: %v, want ErrNotExist", err)
	}
}
