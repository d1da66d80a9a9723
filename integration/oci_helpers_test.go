//go:build integration

package integration

import (
	"encoding/json"
	"github.com/moby/sys/mountinfo"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// ociEnv is one test's view of agentd as an OCI runtime: its own --root, and
// bundles over the shared busybox rootfs. Cleanup force-deletes every
// container the test left, even when it failed.
type ociEnv struct {
	t    *testing.T
	bin  string
	root string
}

func newOCIEnv(t *testing.T) *ociEnv {
	t.Helper()
	e := &ociEnv{t: t, bin: agentdBin(t), root: t.TempDir()}
	t.Cleanup(func() {
		ids := strings.Fields(e.run("", "list", "-q").stdout)
		for _, id := range ids {
			e.run("", "delete", "--force", id)
		}
	})
	return e
}

// run runs agentd with --root and the given arguments.
func (e *ociEnv) run(stdin string, args ...string) result {
	e.t.Helper()
	return run(e.t, stdin, e.bin, append([]string{"--root", e.root}, args...)...)
}

// ok runs agentd and fails the test unless it exits 0.
func (e *ociEnv) ok(args ...string) string {
	e.t.Helper()
	return mustRun(e.t, e.bin, append([]string{"--root", e.root}, args...)...)
}

// fails runs agentd, fails the test unless it exits non-zero, and returns
// its stderr.
func (e *ociEnv) fails(args ...string) string {
	e.t.Helper()
	r := e.run("", args...)
	if r.code == 0 {
		e.t.Fatalf("agentd %v: exit 0, want an error\nstdout: %s", args, r.stdout)
	}
	return r.stderr
}

func (e *ociEnv) state(id string) specs.State {
	e.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(e.ok("state", id)), &st); err != nil {
		e.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

// waitStatus polls state until the container reaches want, with a deadline.
func (e *ociEnv) waitStatus(id string, want specs.ContainerState) {
	e.t.Helper()
	var last specs.ContainerState
	if waitFor(20*time.Second, func() bool { last = e.state(id).Status; return last == want }) {
		return
	}
	e.t.Fatalf("container %s: status %q, want %q", id, last, want)
}

// bundle writes a bundle whose config.json is `agentd spec`'s example over
// the busybox rootfs, running args, changed further by edit.
func (e *ociEnv) bundle(args []string, edit func(*specs.Spec)) string {
	e.t.Helper()
	dir := e.t.TempDir()
	cmd := exec.Command(e.bin, "spec", "--bundle", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("agentd spec: %v: %s", err, out)
	}
	var s specs.Spec
	readJSON(e.t, filepath.Join(dir, "config.json"), &s)
	s.Root.Path = busyboxRootfs(e.t)
	s.Process.Terminal = false
	s.Process.Args = args
	if edit != nil {
		edit(&s)
	}
	writeJSON(e.t, filepath.Join(dir, "config.json"), &s)
	return dir
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cgroupDirs returns the cgroup directories named id anywhere under
// /sys/fs/cgroup (every v1 hierarchy and the unified one).
func cgroupDirs(t testing.TB, id string) []string {
	t.Helper()
	var found []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, r := range roots {
		filepath.WalkDir(r, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if d.Name() == id {
				found = append(found, path)
				return filepath.SkipDir
			}
			return nil
		})
	}
	return found
}

// mountsUnder returns the mount points at or under dir.
func mountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, m := range mounts {
		found = append(found, m.Mountpoint)
	}
	return found
}
