//go:build integration

package integration

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/client"
)

// treeState describes the tree at root as the host sees it through the
// sandbox's mounted root file system: type, mode, owner, size, mtime, link
// target, content hash, hard-link group and xattrs of every entry.
func treeState(t *testing.T, root string) string {
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
		line := fmt.Sprintf("%s mode=%o uid=%d gid=%d", rel, st.Mode, st.Uid, st.Gid)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			line += " -> " + target
		case d.Type().IsRegular():
			data, _ := os.ReadFile(path)
			line += fmt.Sprintf(" size=%d mtime=%d sha=%x", st.Size, st.Mtim.Nano(), sha256.Sum256(data))
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					line += " hardlink-of=" + first
				} else {
					inodes[st.Ino] = rel
				}
			}
		}
		buf := make([]byte, 4096)
		n, _ := unix.Llistxattr(path, buf)
		var xs []string
		for _, name := range strings.Split(string(buf[:max(n, 0)]), "\x00") {
			if name != "" {
				val := make([]byte, 1024)
				k, _ := unix.Lgetxattr(path, name, val)
				xs = append(xs, name+"="+string(val[:max(k, 0)]))
			}
		}
		sort.Strings(xs)
		lines = append(lines, line+" xattrs="+strings.Join(xs, ","))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestSandboxSnapshotRestoreFork changes files in every way an upper layer
// records, snapshots, changes more, restores and compares; then forks and
// checks that the two sandboxes diverge independently.
func TestSandboxSnapshotRestoreFork(t *testing.T) {
	e := newSandboxEnv(t)
	id := e.create("--name", "snap")
	rootfs := filepath.Join(e.state, "sandboxes", id, "rootfs")
	setup := `set -e
mkdir -p /work/dir && cd /work
echo one > a && echo two > dir/b && ln a hard && ln -s dir/b sym
truncate -s 8M sparse && printf data | dd of=sparse bs=1 seek=4194304 conv=notrunc 2>/dev/null
chmod 4755 a && touch -d '2001-02-03 04:05:06' dir/b
rm /usr/bin/env /etc/nsswitch.conf`
	e.must("exec", id, "--", "sh", "-c", setup)
	if err := unix.Setxattr(filepath.Join(rootfs, "work/dir/b"), "user.note", []byte("kept"), 0); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		return treeState(t, filepath.Join(rootfs, "work")) + "\n" + treeState(t, filepath.Join(rootfs, "etc")) +
			"\n" + e.sb("", "exec", id, "--", "sh", "-c", "ls /usr/bin/env 2>&1; ls /tmp").stdout
	}
	want := state()

	var snap struct {
		Sandbox  string `json:"sandbox"`
		Snapshot struct {
			Name  string `json:"name"`
			Size  int64  `json:"size"`
			Files int64  `json:"files"`
			Copy  struct {
				Bytes      int64 `json:"bytes"`
				DurationNs int64 `json:"durationNs"`
			} `json:"copy"`
		} `json:"snapshot"`
	}
	if err := json.Unmarshal([]byte(e.must("snapshot", "--json", "snap", "s1")), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Sandbox != id || snap.Snapshot.Name != "s1" || snap.Snapshot.Copy.Bytes < 8 || snap.Snapshot.Copy.DurationNs <= 0 {
		t.Errorf("snapshot --json = %+v", snap)
	}
	if out := e.must("snapshots", id); !strings.Contains(out, "s1") || !strings.Contains(out, "SIZE") {
		t.Errorf("snapshots:\n%s", out)
	}

	// Change more, including files deleted from the snapshot's state.
	e.must("exec", id, "--", "sh", "-c", "echo changed > /work/a; rm /work/dir/b; echo new > /tmp/new; echo x > /usr/bin/env; rm /etc/passwd")
	if state() == want {
		t.Fatal("the changes after the snapshot are not visible")
	}
	// A command that runs during the restore is killed, with its setsid twin.
	n, bg := e.startSleeper(id)
	if out := e.must("restore", id, "s1"); strings.TrimSpace(out) != id {
		t.Errorf("restore printed %q, want the id", out)
	}
	if err := waitTimeout(bg, 30*time.Second); err == nil {
		t.Error("the command running during the restore was not killed")
	}
	sbWaitNoProcs(t, "sleep "+n, 5*time.Second)
	if got := state(); got != want {
		t.Errorf("after restore:\n%s\nwant:\n%s", got, want)
	}
	if out := e.must("ls"); !strings.Contains(out, "running") {
		t.Errorf("after restore the sandbox is not running:\n%s", out)
	}

	forkID := strings.TrimSpace(e.must("fork", "--name", "branch", "snap:s1"))
	if forkID == "" || forkID == id {
		t.Fatalf("fork printed %q", forkID)
	}
	e.must("exec", "branch", "--", "sh", "-c", "echo fork > /work/a")
	e.must("exec", id, "--", "sh", "-c", "echo orig > /work/a")
	if got := e.must("exec", "branch", "--", "cat", "/work/a", "/work/dir/b"); got != "fork\ntwo\n" {
		t.Errorf("fork sees %q", got)
	}
	if got := e.must("exec", id, "--", "cat", "/work/a"); got != "orig\n" {
		t.Errorf("the original sees %q after the fork changed", got)
	}
	live := strings.TrimSpace(e.must("fork", id))
	if got := e.must("exec", live, "--", "cat", "/work/a"); got != "orig\n" {
		t.Errorf("a fork of the live sandbox sees %q, want its current files", got)
	}
	e.must("snapshot", "rm", id, "s1")
	if out := e.must("snapshots", "--json", id); strings.TrimSpace(out) != "[]" {
		t.Errorf("snapshots after rm: %s", out)
	}
}

func TestSandboxSnapshotBadInput(t *testing.T) {
	e := newSandboxEnv(t)
	id := e.create()
	native := e.create("--backend", "native")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"restore", id, "nosuch"}, "does not exist"},
		{[]string{"fork", id + ":nosuch"}, "does not exist"},
		{[]string{"snapshot", id, "a/b"}, "invalid snapshot name"},
		{[]string{"snapshot", id, ".."}, "invalid snapshot name"},
		{[]string{"snapshot", "nosuchsandbox", "s"}, "nosuchsandbox"},
		{[]string{"snapshot", native, "s"}, "not supported by the native backend"},
		{[]string{"restore", native, "s"}, "not supported by the native backend"},
		{[]string{"fork", native}, "not supported by the native backend"},
		{[]string{"snapshot", "rm", id, "nosuch"}, "does not exist"},
	}
	for _, c := range cases {
		r := e.sb("", c.args...)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("agentd sandbox %v: exit %d, stderr %q; want 125 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	// A refused restore leaves the sandbox as it was.
	if got := e.must("exec", id, "--", "echo", "ok"); got != "ok\n" {
		t.Errorf("exec after refused restore: %q", got)
	}
	e.must("snapshot", id, "dup")
	if r := e.sb("", "snapshot", id, "dup"); r.code != 125 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("second snapshot with one name: %d %q", r.code, r.stderr)
	}
	// The refused forks made nothing: the two sandboxes of the test only.
	if ids := e.must("ls", "-q"); len(strings.Fields(ids)) != 2 {
		t.Errorf("a failed fork left a sandbox behind:\n%s", ids)
	}
}

// TestSandboxSnapshotProgressStream takes a snapshot through the Go client
// with a progress callback, i.e. the NDJSON form of the answer the CLI uses
// on a terminal: progress lines, when the copy is long enough, never go
// backwards, and the result arrives decoded.
func TestSandboxSnapshotProgressStream(t *testing.T) {
	e := newSandboxEnv(t)
	id := e.create()
	e.must("exec", id, "--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do head -c 16777216 /dev/urandom > /tmp/big$i; done")
	var frames []bundle.CopyStats
	res, err := client.New(e.sock).Snapshot(context.Background(), id, "streamed", func(st bundle.CopyStats) {
		frames = append(frames, st)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sandbox != id || res.Snapshot.Name != "streamed" || res.Snapshot.Size < 128<<20 {
		t.Errorf("streamed result %+v", res)
	}
	// The copier reports once the first file is copied, then at most every
	// 100 ms: there is at least one frame.
	if len(frames) == 0 {
		t.Fatalf("no progress frame for a %d MiB snapshot", res.Snapshot.Size>>20)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].Bytes < frames[i-1].Bytes {
			t.Errorf("progress went backwards: %+v", frames)
		}
	}
	if last := frames[len(frames)-1]; last.Bytes > res.Snapshot.Size {
		t.Errorf("progress %d bytes beyond the snapshot's %d", last.Bytes, res.Snapshot.Size)
	}
}

// TestSandboxForkDiskFull: a fork that runs out of space while copying the
// snapshot into the new sandbox (after materializing it) leaves nothing of
// the new sandbox: no listing, no directory, no mount.
func TestSandboxForkDiskFull(t *testing.T) {
	e := newSandboxEnv(t)
	must(t, os.MkdirAll(e.state, 0o700))
	must(t, unix.Mount("tmpfs", e.state, "tmpfs", 0, "size=64m"))
	e.mounts = append(e.mounts, e.state)
	id := e.create()
	e.must("exec", id, "--", "sh", "-c", "head -c 25165824 /dev/urandom > /tmp/big")
	e.must("snapshot", id, "big") // 24 MiB more: 48 of 64 used
	mountsBefore := mountsUnder(t, e.state)
	r := e.sb("", "fork", id+":big")
	if r.code != 125 || !strings.Contains(r.stderr, "no space left") {
		t.Fatalf("fork onto a full disk: exit %d, stdout %q, stderr %q; want 125 and no space left", r.code, r.stdout, r.stderr)
	}
	if ids := strings.Fields(e.must("ls", "-q")); len(ids) != 1 || ids[0] != id {
		t.Errorf("sandboxes after the failed fork: %v, want only %s", ids, id)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.state, "sandboxes")); len(ents) != 1 {
		t.Errorf("sandbox directories after the failed fork: %v", ents)
	}
	if m := mountsUnder(t, e.state); !slices.Equal(m, mountsBefore) {
		t.Errorf("mounts after the failed fork: %v, before it: %v", m, mountsBefore)
	}
	// The source still works.
	if got := e.must("exec", id, "--", "sh", "-c", "wc -c < /tmp/big"); strings.TrimSpace(got) != "25165824" {
		t.Errorf("the source after the failed fork: %q", got)
	}
}
