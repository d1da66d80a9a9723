//go:build linux

package native

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUnreachable(t *testing.T) {
	base, err := os.MkdirTemp("", "agentd-reach-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	closed := filepath.Join(base, "closed")
	passable := filepath.Join(base, "passable")
	for p, mode := range map[string]os.FileMode{closed: 0o700, passable: 0o711} {
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	// The test's own uid owns the directories: ask for another one.
	uid, gid := uint32(os.Getuid()+12345), uint32(os.Getgid()+12345)
	if dir, ok := unreachable(filepath.Join(closed, "x"), uid, gid); ok || dir != closed {
		t.Errorf("under a 0700 dir: (%q, %v), want (%q, false)", dir, ok, closed)
	}
	if dir, ok := unreachable(filepath.Join(passable, "x"), uid, gid); !ok {
		t.Errorf("under a 0711 dir: refused at %q", dir)
	}
	// The owner passes its own 0700 directory.
	if _, ok := unreachable(filepath.Join(closed, "x"), uint32(os.Getuid()), gid); !ok {
		t.Error("the owner could not pass its 0700 dir")
	}
}

func TestWriteJSONAtomic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	in := persisted{ID: "sb", Settings: &settings{UID: 7, Env: map[string]string{"A": "b"}}, CgroupVersion: 2}
	if err := writeJSONAtomic(p, in); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v; want 0600", err, fi.Mode())
	}
	var out persisted
	if err := readJSON(p, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != "sb" || out.Settings.UID != 7 || out.Settings.Env["A"] != "b" || out.CgroupVersion != 2 {
		t.Errorf("read back %+v", out)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
}
