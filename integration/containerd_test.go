//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// TestContainerd drives agentd through containerd's io.containerd.runc.v2
// shim, as `ctr run --runc-binary` (and so the BinaryName runtime option
// that Kubernetes nodes set in config.toml) does, on a private containerd.
// Every step runs with agentd and with Debian's runc.
func TestContainerd(t *testing.T) {
	needTools(t, "containerd", "ctr", "containerd-shim-runc-v2")
	d := startContainerd(t)
	d.ctr(t, "images", "import", busyboxImage(t))
	for _, rt := range clientRuntimes(t) {
		t.Run(rt.name, func(t *testing.T) { containerdSteps(t, d, rt) })
	}
}

// containerd is a private containerd daemon: its root, state, socket and
// config.toml live in one temporary directory, and its containers in one
// namespace, so the test touches nothing of the host's.
type containerd struct {
	dir       string
	socket    string
	namespace string
	cmd       *exec.Cmd
}

// ctr runs ctr against the private containerd and fails the test unless it
// exits 0.
func (d *containerd) ctr(t *testing.T, args ...string) string {
	t.Helper()
	return mustRun(t, "ctr", append(d.globalArgs(), args...)...)
}

// try runs ctr and returns what it did, whatever its exit code.
func (d *containerd) try(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, "", "ctr", append(d.globalArgs(), args...)...)
}

// fifoDir holds ctr's stdio FIFOs (by default in /run/containerd/fifo).
func (d *containerd) fifoDir() string { return filepath.Join(d.dir, "fifo") }

func (d *containerd) globalArgs() []string {
	return []string{"--address", d.socket, "--namespace", d.namespace}
}

const containerdConfig = `version = 2
root = %[1]q
state = %[2]q
# Only what ctr needs: no CRI, no snapshotters but overlayfs and native, no
# tracing, no metrics or debug listeners.
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
`

// startContainerd starts a private containerd and registers its teardown:
// every task and container deleted, the daemon stopped, stray processes
// (shims, containers) killed and reported, mounts and cgroups removed.
func startContainerd(t *testing.T) *containerd {
	t.Helper()
	dir := t.TempDir()
	d := &containerd{
		dir:       dir,
		socket:    filepath.Join(dir, "containerd.sock"),
		namespace: fmt.Sprintf("agentd-test-%d", os.Getpid()),
	}
	config := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(containerdConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"),
		d.socket, d.socket+".ttrpc", filepath.Join(dir, "opt"))
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "containerd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	d.cmd = exec.Command("containerd", "--config", config)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	// Its own process group, so a ^C of `go test` does not reach it
	// before the cleanup has deleted its containers.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(exited) }()
	t.Cleanup(func() { d.stop(t, exited, logPath) })

	ready := waitFor(30*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		return run(t, "", "ctr", "--address", d.socket, "version").code == 0
	})
	select {
	case <-exited:
		ready = false
	default:
	}
	if !ready {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("containerd did not start; its log:\n%s", log)
	}
	return d
}

// stop tears down everything the daemon and its shims made.
func (d *containerd) stop(t *testing.T, exited chan struct{}, logPath string) {
	select {
	case <-exited:
	default:
		for _, id := range strings.Fields(d.try(t, "tasks", "list", "--quiet").stdout) {
			d.try(t, "tasks", "delete", "--force", id)
		}
		for _, id := range strings.Fields(d.try(t, "containers", "list", "--quiet").stdout) {
			d.try(t, "containers", "delete", id)
		}
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = d.cmd.Process.Kill()
			<-exited
		}
	}
	// Shims outlive containerd by design; their command lines name the
	// private socket. Container processes sit in cgroups under the namespace.
	// A shim whose task was deleted exits by itself, soon.
	waitFor(10*time.Second, func() bool { return len(sbProcsWith(d.dir)) == 0 })
	reapStragglers(t, "containerd test", []string{d.dir}, []string{"/" + d.namespace + "/"})
	unmountUnder(t, d.dir)
	removeCgroups(t, d.namespace)
	if t.Failed() {
		if log, err := os.ReadFile(logPath); err == nil {
			t.Logf("containerd log (last 4 KiB):\n%s", tail(log, 4096))
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// containerdSteps runs each client step against one runtime.
func containerdSteps(t *testing.T, d *containerd, rt ociRuntime) {
	runcRoot := filepath.Join(d.dir, "runc-root-"+rt.name)
	s := &ctrSteps{d: d, rt: rt, runcRoot: runcRoot, stateRoot: filepath.Join(runcRoot, d.namespace)}
	t.Run("run", s.run)
	t.Run("tty", s.tty)
	t.Run("detached", s.detached)
	t.Run("host-pid", s.hostPID)
	t.Run("delete-created", s.deleteCreated)
}

// ctrSteps are the steps of TestContainerd for one runtime.
type ctrSteps struct {
	d  *containerd
	rt ociRuntime
	// runcRoot is the shim's runc root option (ctr --runc-root); the
	// runtime's --root is stateRoot, a directory per containerd namespace.
	runcRoot, stateRoot string
}

// id names a container of this runtime's subtest.
func (s *ctrSteps) id(name string) string { return s.rt.name + "-" + name }

// runArgs is `ctr run` with this runtime as the shim's runc binary.
func (s *ctrSteps) runArgs(args ...string) []string {
	return append([]string{"run", "--runc-binary", s.rt.path, "--runc-root", s.runcRoot, "--fifo-dir", s.d.fifoDir()}, args...)
}

// execArgs is `ctr tasks exec`.
func (s *ctrSteps) execArgs(args ...string) []string {
	return append([]string{"tasks", "exec", "--fifo-dir", s.d.fifoDir()}, args...)
}

func (s *ctrSteps) run(t *testing.T) {
	r := s.d.try(t, s.runArgs("--rm", testImage, s.id("run"), "sh", "-c", "echo hello from ctr; echo to-stderr >&2; exit 3")...)
	if r.code != 3 || !strings.Contains(r.stdout, "hello from ctr") || !strings.Contains(r.stderr, "to-stderr") {
		t.Fatalf("ctr run: exit %d, stdout %q, stderr %q; want exit 3, hello from ctr, to-stderr", r.code, r.stdout, r.stderr)
	}
}

func (s *ctrSteps) tty(t *testing.T) {
	args := append(s.d.globalArgs(), s.runArgs("--rm", "-t", testImage, s.id("tty"), "sh", "-c", "tty; echo tty-ok; exit 5")...)
	r := runPty(t, "ctr", args...)
	if r.code != 5 || !strings.Contains(r.stdout, "/dev/pts/") || !strings.Contains(r.stdout, "tty-ok") {
		t.Fatalf("ctr run -t: exit %d, terminal %q; want exit 5, a /dev/pts name and tty-ok", r.code, r.stdout)
	}
}

// detached starts one task and walks it through its life; a failed step
// stops the ones after it.
func (s *ctrSteps) detached(t *testing.T) {
	task := s.id("task")
	// pid 1 ignores TERM unless it traps it; exit 42 shows the signal
	// arrived and the exit code made it back.
	s.d.ctr(t, s.runArgs("-d", testImage, task, "sh", "-c", `trap "exit 42" TERM; sleep 1000 & wait`)...)
	steps := []struct {
		name string
		fn   func(t *testing.T, task string)
	}{
		{"state", s.state}, {"exec", s.exec}, {"exec-tty", s.execTTY}, {"ps", s.ps},
		{"pause-resume", s.pauseResume}, {"metrics", s.metrics}, {"update-memory", s.updateMemory},
		{"kill", s.kill}, {"delete", s.delete},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.fn(t, task) }) {
			return
		}
	}
}

// state checks that the task is this runtime's: its state is under the
// root the shim gave the runtime, and agrees with ctr.
func (s *ctrSteps) state(t *testing.T, task string) {
	pid := s.d.taskPid(t, task, "RUNNING")
	var st specs.State
	if err := json.Unmarshal([]byte(mustRun(t, s.rt.path, "--root", s.stateRoot, "state", task)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != specs.StateRunning || st.Pid != pid {
		t.Fatalf("%s state: %s pid %d; ctr says RUNNING pid %d", s.rt.name, st.Status, st.Pid, pid)
	}
}

func (s *ctrSteps) exec(t *testing.T, task string) {
	r := s.d.try(t, s.execArgs("--exec-id", "e1", task, "sh", "-c", "echo exec-out; echo exec-err >&2; exit 4")...)
	if r.code != 4 || !strings.Contains(r.stdout, "exec-out") || !strings.Contains(r.stderr, "exec-err") {
		t.Fatalf("ctr tasks exec: exit %d, stdout %q, stderr %q; want exit 4, exec-out, exec-err", r.code, r.stdout, r.stderr)
	}
}

func (s *ctrSteps) execTTY(t *testing.T, task string) {
	r := runPty(t, "ctr", append(s.d.globalArgs(), s.execArgs("-t", "--exec-id", "e2", task, "sh", "-c", "tty; exit 6")...)...)
	if r.code != 6 || !strings.Contains(r.stdout, "/dev/pts/") {
		t.Fatalf("ctr tasks exec -t: exit %d, terminal %q; want exit 6 and a /dev/pts name", r.code, r.stdout)
	}
}

func (s *ctrSteps) ps(t *testing.T, task string) {
	pid := s.d.taskPid(t, task, "RUNNING")
	out := s.d.ctr(t, "tasks", "ps", task)
	pids := map[int]bool{}
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			n, _ := strconv.Atoi(f[0])
			pids[n] = true
		}
	}
	if !pids[pid] || len(pids) != 2 { // the shell and its sleep
		t.Fatalf("ctr tasks ps: %q; want the init pid %d and its sleep", out, pid)
	}
}

func (s *ctrSteps) pauseResume(t *testing.T, task string) {
	s.d.ctr(t, "tasks", "pause", task)
	s.d.taskPid(t, task, "PAUSED")
	s.d.ctr(t, "tasks", "resume", task)
	s.d.taskPid(t, task, "RUNNING")
}

func (s *ctrSteps) metrics(t *testing.T, task string) {
	m := s.d.metrics(t, task)
	if m.Pids.Current != 2 || m.memoryUsage() == 0 {
		t.Fatalf("ctr tasks metrics: pids %d, memory usage %d; want 2 pids and some memory", m.Pids.Current, m.memoryUsage())
	}
}

// updateMemory sets a memory limit through Tasks.Update, which the shim
// passes on as `<runtime> update --resources - ID`.
func (s *ctrSteps) updateMemory(t *testing.T, task string) {
	const limit = 64 << 20
	api := newContainerdAPI(s.d.socket, s.d.namespace)
	defer api.close()
	l := int64(limit)
	if err := api.updateResources(task, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &l}}); err != nil {
		t.Fatal(err)
	}
	if got := s.d.metrics(t, task).memoryLimit(); got != limit {
		t.Errorf("ctr tasks metrics: memory limit %d, want %d", got, limit)
	}
	if got := memoryLimit(t, s.d.taskPid(t, task, "RUNNING")); got != limit {
		t.Errorf("the task's cgroup: memory limit %d, want %d", got, limit)
	}
}

func (s *ctrSteps) kill(t *testing.T, task string) {
	s.d.ctr(t, "tasks", "kill", task) // SIGTERM
	if !waitFor(20*time.Second, func() bool { return s.d.taskStatus(t, task) == "STOPPED" }) {
		t.Fatalf("task %s: %s 20s after SIGTERM, want STOPPED", task, s.d.taskStatus(t, task))
	}
}

func (s *ctrSteps) delete(t *testing.T, task string) {
	if dirs := cgroupDirs(t, task); len(dirs) == 0 {
		t.Errorf("no cgroup named %s before delete: the check after it would prove nothing", task)
	}
	r := s.d.try(t, "tasks", "delete", task)
	if r.code != 0 || !strings.Contains(r.stderr, "exit code 42") {
		t.Fatalf("ctr tasks delete: exit %d, stderr %q; want 0 and exit code 42 reported", r.code, r.stderr)
	}
	s.d.ctr(t, "containers", "delete", task)
	if r := run(t, "", s.rt.path, "--root", s.stateRoot, "state", task); r.code == 0 {
		t.Errorf("%s state after delete: %s, want does not exist", s.rt.name, r.stdout)
	}
	if dirs := cgroupDirs(t, task); len(dirs) > 0 {
		t.Errorf("cgroups left after delete: %v", dirs)
	}
}

// hostPID runs a task in the test's own (the host's) PID namespace whose init
// exits and leaves a child behind: the shim then runs `<runtime> kill --all
// ID 9` on the stopped container, and what was left in its cgroup must die
// (a Kubernetes pod with hostPID).
func (s *ctrSteps) hostPID(t *testing.T) {
	c := s.id("hostpid")
	ns := fmt.Sprintf("pid:/proc/%d/ns/pid", os.Getpid())
	n := sbUniqueSleep() // the child, found again by its command line
	s.d.ctr(t, s.runArgs("-d", "--with-ns", ns, testImage, c, "sh", "-c", "sleep "+n+" & exit 0")...)
	if !waitFor(20*time.Second, func() bool { return s.d.taskStatus(t, c) == "STOPPED" }) {
		t.Fatalf("task %s: %s, want STOPPED once its init exits", c, s.d.taskStatus(t, c))
	}
	if !waitFor(10*time.Second, func() bool { return len(sbProcsWith("sleep "+n)) == 0 }) {
		t.Errorf("the child %v the stopped task left still runs", sbProcsWith("sleep "+n))
	}
	s.d.ctr(t, "tasks", "delete", c)
	s.d.ctr(t, "containers", "delete", c)
}

// deleteCreated creates a task and deletes it without ever starting it, as
// CRI's RemoveContainer does for a container that never started: the shim
// runs `<runtime> delete ID`, without --force, on a created container.
func (s *ctrSteps) deleteCreated(t *testing.T) {
	c := s.id("created")
	// A rootfs directory rather than an image: Tasks.Create then needs no
	// snapshot mounts.
	s.d.ctr(t, "containers", "create", "--rootfs", "--read-only", busyboxRootfs(t), c, "/bin/sleep", "1000")
	api := newContainerdAPI(s.d.socket, s.d.namespace)
	defer api.close()
	if err := api.createTask(c, s.rt.path, s.runcRoot); err != nil {
		t.Fatal(err)
	}
	pid := s.d.taskPid(t, c, "CREATED")
	if dirs := cgroupDirs(t, c); len(dirs) == 0 {
		t.Errorf("no cgroup named %s for the created task: the check after delete would prove nothing", c)
	}
	if err := api.deleteTask(c); err != nil {
		t.Fatalf("deleting the created task: %v", err)
	}
	if out := s.d.ctr(t, "tasks", "list", "--quiet"); strings.Contains(out, c) {
		t.Fatalf("task %s still listed after delete: %q", c, out)
	}
	if !waitFor(5*time.Second, func() bool { return !processAlive(pid) }) {
		t.Errorf("init pid %d of the created task runs after delete", pid)
	}
	s.d.ctr(t, "containers", "delete", c)
	if dirs := cgroupDirs(t, c); len(dirs) > 0 {
		t.Errorf("cgroups left after delete: %v", dirs)
	}
}

// taskStatus is the task's status in `ctr tasks list` ("" if not listed).
func (d *containerd) taskStatus(t *testing.T, id string) string {
	t.Helper()
	_, status := d.taskLine(t, id)
	return status
}

// taskPid checks the task's status and returns its pid.
func (d *containerd) taskPid(t *testing.T, id, want string) int {
	t.Helper()
	pid, status := d.taskLine(t, id)
	if status != want {
		t.Fatalf("task %s: %q, want %s", id, status, want)
	}
	return pid
}

func (d *containerd) taskLine(t *testing.T, id string) (int, string) {
	t.Helper()
	for _, line := range strings.Split(d.ctr(t, "tasks", "list"), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			pid, _ := strconv.Atoi(f[1])
			return pid, f[2]
		}
	}
	return 0, ""
}

// taskMetrics is the part of `ctr tasks metrics --format json` the test
// reads; the memory fields differ between cgroup v1 and v2.
type taskMetrics struct {
	Pids struct {
		Current uint64 `json:"current"`
	} `json:"pids"`
	Memory struct {
		Usage      any    `json:"usage"` // v1: {"usage": n, "limit": n}; v2: n
		UsageLimit uint64 `json:"usage_limit"`
	} `json:"memory"`
}

func (m *taskMetrics) v1() (usage, limit uint64, ok bool) {
	u, ok := m.Memory.Usage.(map[string]any)
	if !ok {
		return 0, 0, false
	}
	n, _ := u["usage"].(float64)
	l, _ := u["limit"].(float64)
	return uint64(n), uint64(l), true
}

func (m *taskMetrics) memoryUsage() uint64 {
	if u, _, ok := m.v1(); ok {
		return u
	}
	n, _ := m.Memory.Usage.(float64)
	return uint64(n)
}

func (m *taskMetrics) memoryLimit() uint64 {
	if _, l, ok := m.v1(); ok {
		return l
	}
	return m.Memory.UsageLimit
}

func (d *containerd) metrics(t *testing.T, id string) *taskMetrics {
	t.Helper()
	out := d.ctr(t, "tasks", "metrics", "--format", "json", id)
	var m taskMetrics
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("ctr tasks metrics: %v\n%s", err, out)
	}
	return &m
}
