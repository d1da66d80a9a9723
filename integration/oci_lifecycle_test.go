//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// sleeper is a container process that runs until SIGTERM, then exits 0. As
// pid 1 of its namespace it must trap TERM, or the kernel ignores it.
var sleeper = []string{"sh", "-c", `trap "exit 0" TERM; sleep 1000 & wait`}

func TestOCILifecycle(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle(sleeper, func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.example.key": "value"}
	})
	pidFile := filepath.Join(t.TempDir(), "init.pid")
	e.ok("create", "--bundle", b, "--pid-file", pidFile, "c1")

	st := e.state("c1")
	if st.Status != specs.StateCreated || st.ID != "c1" || st.Bundle != b || st.Version == "" {
		t.Fatalf("after create: state %+v, want created c1 with bundle %s", st, b)
	}
	if st.Annotations["org.example.key"] != "value" {
		t.Errorf("annotations = %v, want org.example.key=value", st.Annotations)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if pid, _ := strconv.Atoi(string(data)); pid != st.Pid || pid <= 0 {
		t.Errorf("pid file says %q, state says %d", data, st.Pid)
	}
	// The user process has not run yet: the init waits for start.
	if cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cmdline"); strings.Contains(string(cmdline), "sleep") {
		t.Errorf("before start the process already runs %q", cmdline)
	}

	e.ok("start", "c1")
	if got := e.state("c1").Status; got != specs.StateRunning {
		t.Fatalf("after start: status %q, want running", got)
	}
	if msg := e.fails("start", "c1"); !strings.Contains(msg, "running") {
		t.Errorf("start of a running container: %q, want it to say it is running", msg)
	}
	if msg := e.fails("delete", "c1"); !strings.Contains(msg, "force") {
		t.Errorf("delete of a running container: %q, want a hint about --force", msg)
	}
	if got := e.state("c1").Status; got != specs.StateRunning {
		t.Fatalf("a refused delete changed the container: status %q", got)
	}

	e.ok("kill", "c1", "TERM")
	e.waitStatus("c1", specs.StateStopped)
	if msg := e.fails("kill", "c1", "KILL"); !strings.Contains(msg, "stopped") {
		t.Errorf("kill of a stopped container: %q, want it to say stopped", msg)
	}
	if msg := e.fails("start", "c1"); !strings.Contains(msg, "stopped") {
		t.Errorf("start of a stopped container: %q", msg)
	}
	e.ok("delete", "c1")
	if msg := e.fails("state", "c1"); !strings.Contains(msg, "does not exist") {
		t.Errorf("state after delete: %q, want does not exist", msg)
	}
	if dirs := cgroupDirs(t, "c1"); len(dirs) > 0 {
		t.Errorf("cgroups left after delete: %v", dirs)
	}
}

func TestOCIDeleteForce(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle(sleeper, nil)
	e.ok("run", "--detach", "--bundle", b, "c2")
	pid := e.state("c2").Pid
	e.ok("delete", "--force", "c2")
	if processAlive(pid) {
		t.Errorf("init pid %d still runs after delete --force", pid)
	}
	if _, err := os.Stat(filepath.Join(e.root, "c2")); !os.IsNotExist(err) {
		t.Errorf("state dir left after delete --force: %v", err)
	}
	e.ok("delete", "--force", "c2") // missing: --force succeeds, as in runc
	e.fails("delete", "c2")

	// A paused container: its frozen processes die too, thawed to do so;
	// the host's pid namespace shows that none is left.
	b = e.bundle([]string{"sh", "-c", "sleep 1000 & sleep 1000"}, func(s *specs.Spec) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.PIDNamespace })
	})
	e.ok("run", "--detach", "--bundle", b, "c3")
	e.ok("pause", "c3")
	pids := pidsInCgroup("/c3\n")
	if len(pids) != 2 { // the shell execs the last sleep
		t.Fatalf("processes in the paused container's cgroup: %v, want its 2 sleeps", pids)
	}
	e.ok("delete", "--force", "c3")
	for _, pid := range pids {
		if !waitFor(5*time.Second, func() bool { return !processAlive(pid) }) {
			t.Errorf("pid %d of the paused container survived delete --force", pid)
		}
	}
}

func TestOCIKillSignals(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle(sleeper, nil)
	e.ok("run", "-d", "--bundle", b, "k1")
	if msg := e.fails("kill", "k1", "NOSUCHSIG"); !strings.Contains(msg, "unknown signal") {
		t.Errorf("unknown signal: %q", msg)
	}
	if got := e.state("k1").Status; got != specs.StateRunning {
		t.Fatalf("status %q after a refused kill", got)
	}
	e.ok("kill", "k1", "9") // by number
	e.waitStatus("k1", specs.StateStopped)

	// --all reaches beyond the init: the init, pid 1 of its namespace,
	// ignores a TERM it has no handler for; its child does not, and once
	// the child is gone the init exits.
	e.ok("run", "-d", "--bundle", e.bundle([]string{"sh", "-c", "sleep 1000; exit 0"}, nil), "k2")
	e.ok("kill", "--all", "k2", "TERM")
	e.waitStatus("k2", specs.StateStopped)
}

func TestOCIRunExitCode(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle([]string{"sh", "-c", "echo out; echo err >&2; exit 7"}, nil)
	r := e.run("", "run", "--bundle", b, "r1")
	if r.code != 7 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("run: code %d stdout %q stderr %q, want 7, out, err", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(e.root, "r1")); !os.IsNotExist(err) {
		t.Errorf("run left its state behind: %v", err)
	}
	// Without a pid namespace the shell is not an init, so it can die of
	// its own SIGKILL.
	b = e.bundle([]string{"sh", "-c", "kill -KILL $$"}, func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	})
	if r := e.run("", "run", "--bundle", b, "r2"); r.code != 137 {
		t.Errorf("process killed by SIGKILL: exit %d, want 137", r.code)
	}
	b = e.bundle([]string{"cat"}, nil)
	if r := e.run("piped input\n", "run", "--bundle", b, "r3"); r.stdout != "piped input\n" {
		t.Errorf("stdin not passed: stdout %q", r.stdout)
	}
}

func TestOCIPauseResume(t *testing.T) {
	e := newOCIEnv(t)
	e.ok("run", "-d", "--bundle", e.bundle(sleeper, nil), "p1")
	e.ok("pause", "p1")
	if got := e.state("p1").Status; got != specs.ContainerState("paused") {
		t.Fatalf("after pause: %q", got)
	}
	if msg := e.fails("exec", "p1", "true"); !strings.Contains(msg, "paused") {
		t.Errorf("exec into paused: %q", msg)
	}
	e.fails("pause", "p1")
	e.ok("resume", "p1")
	if got := e.state("p1").Status; got != specs.StateRunning {
		t.Fatalf("after resume: %q", got)
	}
	e.fails("resume", "p1")
}

func TestOCIListAndPs(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle(sleeper, nil)
	e.ok("run", "-d", "--bundle", b, "l1")
	e.ok("create", "--bundle", b, "l2")
	if got := e.ok("list", "-q"); got != "l1\nl2\n" {
		t.Errorf("list -q = %q", got)
	}
	var list []specs.State
	if err := json.Unmarshal([]byte(e.ok("list", "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Status != specs.StateRunning || list[1].Status != specs.StateCreated {
		t.Errorf("list json = %+v", list)
	}
	var pids []int
	if err := json.Unmarshal([]byte(e.ok("ps", "--format", "json", "l1")), &pids); err != nil {
		t.Fatal(err)
	}
	init := e.state("l1").Pid
	found := false
	for _, p := range pids {
		found = found || p == init
	}
	if !found || len(pids) < 2 {
		t.Errorf("ps json = %v, want the init %d and its sleep", pids, init)
	}
	if table := e.ok("ps", "l1"); !strings.Contains(table, "PID") || !strings.Contains(table, "sleep 1000") {
		t.Errorf("ps table:\n%s", table)
	}
}

func TestOCIFeaturesAndSpec(t *testing.T) {
	e := newOCIEnv(t)
	var f struct {
		OCIVersionMax string   `json:"ociVersionMax"`
		Hooks         []string `json:"hooks"`
		Linux         struct {
			Seccomp struct{ Enabled bool } `json:"seccomp"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(e.ok("features")), &f); err != nil {
		t.Fatal(err)
	}
	if f.OCIVersionMax == "" || len(f.Hooks) < 6 || !f.Linux.Seccomp.Enabled {
		t.Errorf("features = %+v; want a version, the six hooks and seccomp enabled", f)
	}
	dir := t.TempDir()
	e.ok("spec", "--bundle", dir)
	if msg := e.fails("spec", "--bundle", dir); !strings.Contains(msg, "exists") {
		t.Errorf("spec over an existing config.json: %q", msg)
	}
}
