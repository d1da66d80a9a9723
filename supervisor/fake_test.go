package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

// fakeBackend runs execs as plain host processes, each in its own process
// group. Its sandboxes outlive a Supervisor, as real ones outlive a daemon,
// so tests can "restart" by building a new Supervisor over the same state
// dir and backend.
type fakeBackend struct {
	name string

	mu         sync.Mutex
	boxes      map[string]*fakeSandbox
	failCreate error // returned by the next Create when set
	failLoad   error
	noExec     bool // refuse every exec (fuzzing must not run commands)
}

func newFakeBackend(name string) *fakeBackend {
	return &fakeBackend{name: name, boxes: make(map[string]*fakeSandbox)}
}

func (f *fakeBackend) Name() string { return f.name }

func (f *fakeBackend) Probe(context.Context) (api.Capabilities, error) {
	return api.Capabilities{Backend: f.name, Available: true,
		Features: []api.Feature{{Name: "fake", Enforced: false, Detail: "host processes"}}}, nil
}

func (f *fakeBackend) Create(_ context.Context, id string, spec *bundle.Spec) (Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failCreate; err != nil {
		f.failCreate = nil
		return nil, err
	}
	sb := &fakeSandbox{id: id, spec: spec, procs: make(map[string]*fakeProc), noExec: f.noExec}
	f.boxes[id] = sb
	return sb, nil
}

func (f *fakeBackend) Load(_ context.Context, id string) (Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failLoad != nil {
		return nil, f.failLoad
	}
	sb, ok := f.boxes[id]
	if !ok || sb.isDestroyed() {
		return nil, fmt.Errorf("fake %s: %w", id, api.ErrNotExist)
	}
	return sb, nil
}

func (f *fakeBackend) get(id string) *fakeSandbox {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.boxes[id]
}

type fakeSandbox struct {
	id   string
	spec *bundle.Spec

	mu         sync.Mutex
	paused     bool
	destroyed  bool
	dead       bool // its "init" died: Exec fails with ErrNotRunning
	noExec     bool
	procs      map[string]*fakeProc
	killedExec []string
}

func (s *fakeSandbox) isDestroyed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.destroyed
}

func (s *fakeSandbox) Exec(_ context.Context, cfg *ExecConfig) (Process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead || s.destroyed {
		return nil, api.ErrNotRunning
	}
	if s.noExec {
		return nil, fmt.Errorf("%w: %s", api.ErrCommandNotFound, cfg.Args[0])
	}
	if s.paused {
		return nil, errors.New("fake: exec while paused: the supervisor should have refused")
	}
	cmd := exec.Command(cfg.Args[0], cfg.Args[1:]...)
	cmd.Env = fakeEnv(s.spec, cfg)
	cmd.Dir = cfg.Workdir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = cfg.Stdin, cfg.Stdout, cfg.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 200 * time.Millisecond
	if err := cmd.Start(); err != nil {
		switch {
		case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%w: %v", api.ErrCommandNotFound, err)
		case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENOEXEC):
			return nil, fmt.Errorf("%w: %v", api.ErrNotExecutable, err)
		}
		return nil, err
	}
	p := &fakeProc{cmd: cmd}
	s.procs[cfg.ID] = p
	return p, nil
}

func (s *fakeSandbox) Pause(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return api.ErrNotRunning
	}
	s.paused = true
	return nil
}

func (s *fakeSandbox) Resume(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = false
	return nil
}

func (s *fakeSandbox) Stats(context.Context) (*api.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &api.Stats{MemoryBytes: 1 << 20, CPUTimeNs: 42, Pids: int64(len(s.procs))}, nil
}

func (s *fakeSandbox) KillExecs(_ context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.killedExec = append(s.killedExec, id)
		if p, ok := s.procs[id]; ok {
			_ = p.Kill()
		}
	}
	return nil
}

func (s *fakeSandbox) Destroy(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		_ = p.Kill()
	}
	s.destroyed = true
	return nil
}

type fakeProc struct {
	cmd *exec.Cmd
}

func (p *fakeProc) Pid() int { return p.cmd.Process.Pid }

func (p *fakeProc) Wait() (ExitStatus, error) {
	err := p.cmd.Wait()
	ps := p.cmd.ProcessState
	if ps == nil {
		return ExitStatus{}, err
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ExitStatus{Signal: int(ws.Signal())}, nil
	}
	return ExitStatus{Code: ps.ExitCode()}, nil
}

// Kill kills the process group; good enough for the fake, whose tests do
// not setsid.
func (p *fakeProc) Kill() error {
	return syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

func (p *fakeProc) Resize(rows, cols uint16) error { return api.ErrUnsupported }

// fakeEnv is what a real backend gives a command: defaults, then the
// spec's env, then the exec's, plus the exec's tag.
func fakeEnv(spec *bundle.Spec, cfg *ExecConfig) []string {
	home := "/root"
	if cfg.User != nil && cfg.User.UID != 0 {
		home = "/tmp"
	}
	env := map[string]string{"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "LANG": "C.UTF-8"}
	maps.Copy(env, spec.Env)
	maps.Copy(env, cfg.Env)
	env["AGENTD_EXEC_ID"] = cfg.ID
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
