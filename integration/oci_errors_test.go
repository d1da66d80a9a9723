//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestOCIBadInput(t *testing.T) {
	e := newOCIEnv(t)
	good := e.bundle(sleeper, nil)
	e.ok("create", "--bundle", good, "dup")

	malformed := func(content string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o644)
		os.Mkdir(filepath.Join(dir, "rootfs"), 0o755)
		return dir
	}
	relCwd := e.bundle([]string{"true"}, func(s *specs.Spec) { s.Process.Cwd = "tmp" })
	terminal := e.bundle([]string{"true"}, func(s *specs.Spec) { s.Process.Terminal = true })
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"state of unknown id", []string{"state", "nosuch"}, "does not exist"},
		{"start of unknown id", []string{"start", "nosuch"}, "does not exist"},
		{"kill of unknown id", []string{"kill", "nosuch"}, "does not exist"},
		{"delete of unknown id", []string{"delete", "nosuch"}, "does not exist"},
		{"duplicate id", []string{"create", "--bundle", good, "dup"}, "already exists"},
		{"id escaping the root", []string{"create", "--bundle", good, "../x"}, "invalid container id"},
		{"id with a slash", []string{"state", "a/b"}, "invalid container id"},
		{"empty id", []string{"create", "--bundle", good, ""}, "invalid container id"},
		{"missing bundle", []string{"create", "--bundle", "/nonexistent/bundle", "m1"}, "not a directory"},
		{"no config.json", []string{"create", "--bundle", t.TempDir(), "m2"}, "config.json not found"},
		{"malformed JSON", []string{"create", "--bundle", malformed(`{"ociVersion": "1.0.0",`), "m3"}, "line 1"},
		{"wrong type", []string{"create", "--bundle", malformed(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"linux":{},"process":{"cwd":"/","args":"sh"}}`), "m4"}, "field process.args"},
		{"no process", []string{"create", "--bundle", malformed(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"linux":{}}`), "m5"}, "field process"},
		{"relative cwd", []string{"create", "--bundle", relCwd, "m6"}, "process.cwd"},
		{"terminal without a console socket", []string{"create", "--bundle", terminal, "m7"}, "--console-socket"},
		{"unknown signal", []string{"kill", "dup", "SIGNOPE"}, "unknown signal"},
		{"extra arguments", []string{"state", "a", "b"}, "expects 1"},
		{"bad rootless value", []string{"--rootless", "maybe", "list"}, "--rootless"},
		{"bad log format", []string{"--log-format", "xml", "list"}, "--log-format"},
		// The differences from runc the README names.
		{"exec --user by name", []string{"exec", "--user", "nobody", "dup", "true"}, "numeric"},
	}
	// No checkpoint/restore: unknown commands, exit 3 like any other.
	for _, cmd := range []string{"checkpoint", "restore"} {
		if r := e.run("", cmd, "dup"); r.code != 3 || !strings.Contains(r.stderr, cmd) {
			t.Errorf("agentd %s: exit %d, stderr %q; want 3 naming the unknown command", cmd, r.code, r.stderr)
		}
	}
	// --criu is accepted (containerd's shim may pass it) and ignored.
	if got := e.ok("--criu", "/usr/sbin/criu", "list", "-q"); got != "dup\n" {
		t.Errorf("--criu list: %q", got)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.run("", c.args...)
			if r.code != 1 {
				t.Fatalf("agentd %v: exit %d, want 1 (as runc)", c.args, r.code)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("agentd %v: stderr %q, want it to contain %q", c.args, r.stderr, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.root), "x")); err == nil {
		t.Error("an id of ../x made a directory outside the root")
	}
	if st := e.state("dup"); st.Status != specs.StateCreated || st.Bundle != good {
		t.Errorf("a duplicate create changed the existing container: %+v", st)
	}
	for _, id := range []string{"m1", "m2", "m3", "m4", "m5", "m6"} {
		if _, err := os.Stat(filepath.Join(e.root, id)); err == nil {
			t.Errorf("failed create of %s left its state dir", id)
		}
	}
}

// TestOCIFailedCreateLeavesNothing makes create fail after namespaces and
// cgroups exist (the command is missing), and checks that neither survives.
// (The container's mounts live in its own mount namespace, which dies with
// it.)
func TestOCIFailedCreateLeavesNothing(t *testing.T) {
	e := newOCIEnv(t)
	// The cgroup check finds a created container's cgroups.
	e.ok("create", "--bundle", e.bundle(sleeper, nil), "f0")
	if dirs := cgroupDirs(t, "f0"); len(dirs) == 0 {
		t.Fatal("no cgroup named after a created container: the check below would prove nothing")
	}
	e.ok("delete", "--force", "f0")
	b := e.bundle([]string{"/no/such/command"}, nil)
	msg := e.fails("create", "--bundle", b, "f1")
	if !strings.Contains(msg, "/no/such/command") {
		t.Errorf("error %q does not name the missing command", msg)
	}
	if _, err := os.Stat(filepath.Join(e.root, "f1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state dir left behind: %v", err)
	}
	if dirs := cgroupDirs(t, "f1"); len(dirs) > 0 {
		t.Errorf("cgroups left behind: %v", dirs)
	}
	if got := e.ok("list", "-q"); got != "" {
		t.Errorf("list after a failed create: %q", got)
	}
}

// TestOCIJSONLog checks what containerd relies on: with --log-format json
// every line of --log is a JSON object and the last error is in it.
func TestOCIJSONLog(t *testing.T) {
	e := newOCIEnv(t)
	log := filepath.Join(t.TempDir(), "log.json")
	b := e.bundle([]string{"true"}, func(s *specs.Spec) { s.Process.Cwd = "relative" })
	r := e.run("", "--log", log, "--log-format", "json", "create", "--bundle", b, "j1")
	if r.code == 0 {
		t.Fatal("create with a bad config succeeded")
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var last map[string]any
	for _, l := range lines {
		last = nil
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
	}
	if last["level"] != "error" || !strings.Contains(last["msg"].(string), "process.cwd") {
		t.Errorf("last log line %v, want level error naming process.cwd", last)
	}
	if !strings.Contains(r.stderr, "process.cwd") {
		t.Errorf("stderr %q should carry the error too", r.stderr)
	}
}

func TestOCISystemdCgroupWithoutSystemd(t *testing.T) {
	e := newOCIEnv(t)
	args := []string{e.bin, "--root", e.root, "--systemd-cgroup", "create", "--bundle", e.bundle(sleeper, nil), "s1"}
	r := run(t, "", args[0], args[1:]...)
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		// On a host that runs systemd, hide it from agentd (systemd's own
		// test is that directory) in a mount namespace of its own.
		r = run(t, "", "unshare", append([]string{"-m", "sh", "-c",
			`mount -t tmpfs none /run/systemd && exec "$@"`, "sh"}, args...)...)
	}
	if r.code == 0 || !strings.Contains(r.stderr, "systemd") {
		t.Errorf("--systemd-cgroup without systemd: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(e.root, "s1")); err == nil {
		t.Error("state dir created despite the refusal")
	}
}
