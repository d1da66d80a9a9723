//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// TestPodman drives agentd through podman (`podman --runtime agentd`), whose
// conmon calls it as it calls runc, on a private podman store. Every step
// runs with agentd and with Debian's runc.
func TestPodman(t *testing.T) {
	needTools(t, "podman", "conmon")
	for _, rt := range clientRuntimes(t) {
		t.Run(rt.name, func(t *testing.T) { podmanSteps(t, newPodman(t, rt)) })
	}
}

// podman runs podman with a private store (--root, --runroot, --tmpdir under
// one temporary directory) and the runtime under test. Its containers live
// under one cgroup parent, so the cleanup finds whatever they left.
type podman struct {
	dir          string
	rt           ociRuntime
	cgroupParent string
}

func newPodman(t *testing.T, rt ociRuntime) *podman {
	t.Helper()
	p := &podman{
		dir:          t.TempDir(),
		rt:           rt,
		cgroupParent: fmt.Sprintf("/agentd-test-%d-%s", os.Getpid(), rt.name),
	}
	t.Cleanup(func() { p.cleanup(t) })
	p.ok(t, "load", "--input", busyboxImage(t))
	return p
}

func (p *podman) args(args ...string) []string {
	return append([]string{
		"--root", filepath.Join(p.dir, "root"),
		"--runroot", filepath.Join(p.dir, "runroot"),
		"--tmpdir", filepath.Join(p.dir, "tmp"),
		"--storage-driver", "vfs", // no overlay mounts to leak
		"--cgroup-manager", "cgroupfs", // this host's init is not systemd
		"--events-backend", "file",
		"--runtime", p.rt.path,
	}, args...)
}

// runArgs are the options of every `podman run`. Podman's default rlimits
// (1048576 open files and processes) need CAP_SYS_RESOURCE, which root may
// lack (it does on the VMs CI runs on, for runc as much as for agentd), so
// the test lowers them; lowering needs no privilege.
func (p *podman) runArgs(args ...string) []string {
	return append([]string{
		"run", "--network", "none", "--cgroup-parent", p.cgroupParent,
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
	}, args...)
}

func (p *podman) ok(t *testing.T, args ...string) string {
	t.Helper()
	return mustRun(t, "podman", p.args(args...)...)
}

func (p *podman) try(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, "", "podman", p.args(args...)...)
}

// cleanup removes every container (conmon and the runtime's state with
// them), then kills and reports what still runs, then removes mounts and
// cgroups; t.TempDir removes the store.
func (p *podman) cleanup(t *testing.T) {
	p.try(t, "rm", "--all", "--force", "--time", "0")
	// conmon runs `podman container cleanup` when a container exits; give
	// those a moment before calling them stragglers.
	waitFor(10*time.Second, func() bool { return len(sbProcsWith(p.dir)) == 0 })
	reapStragglers(t, "podman test", []string{p.dir}, []string{p.cgroupParent + "/"})
	unmountUnder(t, p.dir)
	removeCgroups(t, p.cgroupParent)
}

func podmanSteps(t *testing.T, p *podman) {
	t.Run("run", p.run)
	t.Run("tty", p.tty)
	t.Run("detached", p.detached)
}

func (p *podman) run(t *testing.T) {
	r := p.try(t, p.runArgs("--rm", testImage, "sh", "-c", "echo hello from podman; echo to-stderr >&2; exit 3")...)
	if r.code != 3 || !strings.Contains(r.stdout, "hello from podman") || !strings.Contains(r.stderr, "to-stderr") {
		t.Fatalf("podman run: exit %d, stdout %q, stderr %q; want exit 3, hello from podman, to-stderr", r.code, r.stdout, r.stderr)
	}
}

func (p *podman) tty(t *testing.T) {
	r := p.try(t, p.runArgs("--rm", "-t", testImage, "sh", "-c", "tty; echo tty-ok; exit 4")...)
	if r.code != 4 || !strings.Contains(r.stdout, "/dev/pts/") || !strings.Contains(r.stdout, "tty-ok") {
		t.Fatalf("podman run -t: exit %d, stdout %q, stderr %q; want exit 4, a /dev/pts name and tty-ok", r.code, r.stdout, r.stderr)
	}
}

// podmanContainer is the detached container the later steps share.
type podmanContainer struct{ name, id string }

// detached starts one container and walks it through its life; a failed
// step stops the ones after it.
func (p *podman) detached(t *testing.T) {
	c := podmanContainer{name: "detached-" + p.rt.name}
	// pid 1 ignores TERM unless it traps it; exit 42 shows that stop's
	// SIGTERM arrived and the exit code made it back.
	c.id = strings.TrimSpace(p.ok(t, p.runArgs("-d", "--name", c.name, testImage, "sh", "-c", `trap "exit 42" TERM; sleep 1000 & wait`)...))
	steps := []struct {
		name string
		fn   func(t *testing.T, c podmanContainer)
	}{
		{"state", p.state}, {"exec", p.exec}, {"exec-tty", p.execTTY}, {"exec-preserve-fds", p.execPreserveFDs},
		{"pause-unpause", p.pauseUnpause}, {"update-memory", p.updateMemory}, {"stop", p.stop}, {"rm", p.rm},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.fn(t, c) }) {
			return
		}
	}
}

// state checks that the container is this runtime's (conmon used the
// runtime's default state root) and that it agrees with podman.
func (p *podman) state(t *testing.T, c podmanContainer) {
	pid := p.status(t, c.name, "running")
	var st specs.State
	if err := json.Unmarshal([]byte(mustRun(t, p.rt.path, "state", c.id)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != specs.StateRunning || st.Pid != pid {
		t.Fatalf("%s state: %s pid %d; podman says running pid %d", p.rt.name, st.Status, st.Pid, pid)
	}
}

func (p *podman) exec(t *testing.T, c podmanContainer) {
	r := p.try(t, "exec", c.name, "sh", "-c", "echo exec-out; echo exec-err >&2; exit 9")
	if r.code != 9 || !strings.Contains(r.stdout, "exec-out") || !strings.Contains(r.stderr, "exec-err") {
		t.Fatalf("podman exec: exit %d, stdout %q, stderr %q; want exit 9, exec-out, exec-err", r.code, r.stdout, r.stderr)
	}
}

func (p *podman) execTTY(t *testing.T, c podmanContainer) {
	r := p.try(t, "exec", "-t", c.name, "sh", "-c", "tty; exit 6")
	if r.code != 6 || !strings.Contains(r.stdout, "/dev/pts/") {
		t.Fatalf("podman exec -t: exit %d, stdout %q, stderr %q; want exit 6 and a /dev/pts name", r.code, r.stdout, r.stderr)
	}
}

// execPreserveFDs hands the exec a file as fd 3: conmon passes
// `<runtime> exec --preserve-fds 1`.
func (p *podman) execPreserveFDs(t *testing.T, c podmanContainer) {
	path := filepath.Join(t.TempDir(), "fd3")
	if err := os.WriteFile(path, []byte("through fd 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := runWith(t, runOpts{extra: []*os.File{f}}, "podman", p.args("exec", "--preserve-fds", "1", c.name, "sh", "-c", "cat <&3")...)
	if r.code != 0 || r.stdout != "through fd 3\n" {
		t.Fatalf("podman exec --preserve-fds 1: exit %d, stdout %q, stderr %q; want the file read through fd 3", r.code, r.stdout, r.stderr)
	}
}

func (p *podman) pauseUnpause(t *testing.T, c podmanContainer) {
	p.ok(t, "pause", c.name)
	p.status(t, c.name, "paused")
	p.ok(t, "unpause", c.name)
	p.status(t, c.name, "running")
}

// updateMemory: podman runs `<runtime> update --resources FILE ID`.
func (p *podman) updateMemory(t *testing.T, c podmanContainer) {
	p.ok(t, "update", "--memory", "64m", c.name)
	if got := memoryLimit(t, p.status(t, c.name, "running")); got != 64<<20 {
		t.Fatalf("the container's cgroup: memory limit %d, want %d", got, 64<<20)
	}
	// rm's check that the cgroups are gone looks for these.
	if dirs := cgroupDirs(t, "libpod-"+c.id); len(dirs) == 0 {
		t.Errorf("no cgroup named libpod-%s while it runs: the check after rm would prove nothing", c.id)
	}
}

func (p *podman) stop(t *testing.T, c podmanContainer) {
	start := time.Now()
	p.ok(t, "stop", "--time", "20", c.name)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("podman stop took %v: SIGTERM did not stop it", d)
	}
	if got := p.inspect(t, c.name, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 42" {
		t.Fatalf("after stop: %q, want exited 42", got)
	}
}

func (p *podman) rm(t *testing.T, c podmanContainer) {
	p.ok(t, "rm", c.name)
	if r := run(t, "", p.rt.path, "state", c.id); r.code == 0 {
		t.Errorf("%s state after rm: %s, want does not exist", p.rt.name, r.stdout)
	}
	if dirs := cgroupDirs(t, "libpod-"+c.id); len(dirs) > 0 {
		t.Errorf("cgroups left after rm: %v", dirs)
	}
}

func (p *podman) inspect(t *testing.T, name, format string) string {
	t.Helper()
	return strings.TrimSpace(p.ok(t, "inspect", "--format", format, name))
}

// status checks the container's status and returns its pid.
func (p *podman) status(t *testing.T, name, want string) int {
	t.Helper()
	f := strings.Fields(p.inspect(t, name, "{{.State.Status}} {{.State.Pid}}"))
	if len(f) != 2 || f[0] != want {
		t.Fatalf("container %s: %v, want %s", name, f, want)
	}
	pid, _ := strconv.Atoi(f[1])
	return pid
}
