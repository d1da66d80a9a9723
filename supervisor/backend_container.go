package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/agentd/agentd/bundle"
	agentdruntime "github.com/agentd/agentd/runtime"
	"github.com/agentd/agentd/supervisor/api"
)

// containerInit is the long-lived process of a container sandbox: a shell
// that sleeps until SIGTERM and, as pid 1 of the sandbox's pid namespace,
// reaps the orphans of the execs that join it.
var containerInit = []string{"/bin/sh", "-c", `trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done`}

// containerBackend runs sandboxes as OCI containers: bundle materializes the
// overlay root file system and config.json, runtime (libcontainer) runs
// them.
type containerBackend struct {
	rt       *agentdruntime.Runtime
	stateDir string
	runDir   string
	log      *slog.Logger
}

// NewContainerBackend returns the container backend; its libcontainer state
// lives in runDir/containers, its bundles under stateDir/sandboxes.
func NewContainerBackend(stateDir, runDir string, log *slog.Logger) (Backend, error) {
	rt, err := agentdruntime.New(filepath.Join(runDir, "containers"), agentdruntime.Options{})
	if err != nil {
		return nil, err
	}
	return &containerBackend{rt: rt, stateDir: stateDir, runDir: runDir, log: log}, nil
}

func (b *containerBackend) Name() string { return bundle.BackendContainer }

func (b *containerBackend) Create(ctx context.Context, id string, spec *bundle.Spec) (_ Sandbox, retErr error) {
	bd, err := bundle.Materialize(b.stateDir, id, spec, containerInit)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = b.rt.Delete(id, true)
			if err := bundle.Remove(b.stateDir, id); err != nil {
				retErr = errors.Join(retErr, err)
			}
		}
	}()
	if err := b.start(ctx, id, bd.Dir); err != nil {
		return nil, err
	}
	return &containerSandbox{b: b, id: id}, nil
}

// start creates and starts the container's init with its stdio on
// /dev/null, so that it does not depend on the daemon staying alive.
func (b *containerBackend) start(ctx context.Context, id, dir string) error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	opts := agentdruntime.CreateOptions{Bundle: dir, Stdio: agentdruntime.Stdio{Stdin: null, Stdout: null, Stderr: null}}
	if err := b.rt.Create(ctx, id, opts); err != nil {
		return fmt.Errorf("creating container: %w", err)
	}
	if err := b.rt.Start(ctx, id); err != nil {
		return fmt.Errorf("starting container: %w", err)
	}
	return nil
}

// Load reattaches to a container that kept running while the daemon was
// away. A container that is gone (a reboot emptied the run dir) or stopped
// is started again over its kept upper layer.
func (b *containerBackend) Load(ctx context.Context, id string) (Sandbox, error) {
	st, err := b.rt.State(id)
	switch {
	case err == nil && st.Status != specs.StateStopped:
		return &containerSandbox{b: b, id: id}, nil
	case err != nil && !errors.Is(err, agentdruntime.ErrNotExist):
		return nil, err
	}
	spec, err := readSpecFile(b.stateDir, id)
	if err != nil {
		return nil, fmt.Errorf("container sandbox %s: %w", id, api.ErrNotExist)
	}
	_ = b.rt.Delete(id, true)
	if err := bundle.Unmount(b.stateDir, id); err != nil {
		return nil, err
	}
	bd, err := bundle.Remount(b.stateDir, id, spec)
	if err != nil {
		return nil, fmt.Errorf("remounting sandbox %s: %w", id, err)
	}
	if err := b.start(ctx, id, bd.Dir); err != nil {
		_ = bundle.Unmount(b.stateDir, id)
		return nil, err
	}
	b.log.Info("restarted container sandbox", "id", id)
	return &containerSandbox{b: b, id: id}, nil
}

// readSpecFile reads the spec.json the store wrote for sandbox id.
func readSpecFile(stateDir, id string) (*bundle.Spec, error) {
	if err := api.ValidateID(id); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(stateDir, "sandboxes", id, "spec.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return bundle.Decode(f)
}

type containerSandbox struct {
	b  *containerBackend
	id string

	mu   sync.Mutex
	base *specs.Process // the process of config.json, read once
}

// baseProcess is the process of the sandbox's config.json, which never
// changes while the sandbox exists (a restore or restart keeps the bundle),
// so it is read once rather than for every exec.
func (s *containerSandbox) baseProcess() (*specs.Process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base == nil {
		p, err := s.b.rt.ProcessFromBundle(s.id)
		if err != nil {
			return nil, runtimeErr(err)
		}
		s.base = p
	}
	return s.base, nil
}

func (s *containerSandbox) Exec(ctx context.Context, cfg *ExecConfig) (_ Process, retErr error) {
	base, err := s.baseProcess()
	if err != nil {
		return nil, err
	}
	p := execProcess(base, cfg)
	stdin := cfg.Stdin
	if cfg.Tty {
		stdin = nil // the pty gets the input (attachTTY)
	}
	pipes, err := newStdioPipes(stdin, cfg.Stdout, cfg.Stderr)
	if err != nil {
		return nil, err
	}
	defer pipes.closeChild()
	opts := agentdruntime.ExecOptions{Process: p, SubCgroup: execCgroup(cfg.ID),
		Stdio: agentdruntime.Stdio{Stdin: pipes.stdin, Stdout: pipes.stdout, Stderr: pipes.stderr}}
	var cs *consoleSocket
	if cfg.Tty {
		if cs, err = newConsoleSocket(s.b.runDir); err != nil {
			pipes.closeParent()
			return nil, fmt.Errorf("console socket: %w", err)
		}
		defer cs.close()
		opts.ConsoleSocket = cs.path
	}
	proc, err := s.b.rt.Exec(context.WithoutCancel(ctx), s.id, opts)
	if err != nil {
		pipes.closeParent()
		return nil, classifyExecErr(runtimeErr(err))
	}
	cp := &containerProc{s: s, proc: proc, execID: cfg.ID, pipes: pipes}
	if cs != nil {
		master, err := cs.receive()
		if err != nil {
			_ = cp.Kill()
			_, _ = proc.Wait()
			pipes.closeParent()
			return nil, err
		}
		cp.attachTTY(master, cfg)
	}
	return cp, nil
}

// execProcess is the container's own process (env, capabilities, rlimits)
// with the exec's command, environment, workdir and user on top. The exec
// id is put in the environment so that the exec's processes can be found
// even after they double-forked away from it.
func execProcess(base *specs.Process, cfg *ExecConfig) *specs.Process {
	p := *base
	p.Args = slices.Clone(cfg.Args)
	p.Terminal = cfg.Tty
	if cfg.Tty && cfg.Rows > 0 && cfg.Cols > 0 {
		p.ConsoleSize = &specs.Box{Height: uint(cfg.Rows), Width: uint(cfg.Cols)}
	}
	env := make([]string, 0, len(base.Env)+len(cfg.Env)+1)
	for _, kv := range base.Env {
		k, _, _ := strings.Cut(kv, "=")
		if _, override := cfg.Env[k]; !override && k != execIDEnv {
			env = append(env, kv)
		}
	}
	for _, k := range sortedKeys(cfg.Env) {
		env = append(env, k+"="+cfg.Env[k])
	}
	p.Env = append(env, execIDEnv+"="+cfg.ID)
	if cfg.Workdir != "" {
		p.Cwd = cfg.Workdir
	}
	if cfg.User != nil {
		p.User.UID, p.User.GID = cfg.User.UID, cfg.User.GID
		p.User.AdditionalGids = nil
	}
	return &p
}

// classifyExecErr turns libcontainer's refusal to execute the command into
// ErrCommandNotFound or ErrNotExecutable. The error crosses from the
// container's init as text, so its message is all there is to go by.
func classifyExecErr(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return fmt.Errorf("%w: %v", api.ErrCommandNotFound, err)
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "exec format error"):
		return fmt.Errorf("%w: %v", api.ErrNotExecutable, err)
	}
	return err
}

// runtimeErr maps the runtime's sentinels to the API's.
func runtimeErr(err error) error {
	switch {
	case errors.Is(err, agentdruntime.ErrNotExist), errors.Is(err, agentdruntime.ErrNotRunning):
		return fmt.Errorf("%w: %v", api.ErrNotRunning, err)
	case errors.Is(err, agentdruntime.ErrInvalidState):
		return fmt.Errorf("%w: %v", api.ErrNotRunning, err)
	}
	return err
}

func (s *containerSandbox) Pause(context.Context) error  { return runtimeErr(s.b.rt.Pause(s.id)) }
func (s *containerSandbox) Resume(context.Context) error { return runtimeErr(s.b.rt.Resume(s.id)) }

func (s *containerSandbox) Stats(context.Context) (*api.Stats, error) {
	st, err := s.b.rt.Stats(s.id)
	if err != nil {
		return nil, runtimeErr(err)
	}
	out := &api.Stats{
		MemoryBytes: int64(st.Memory.Usage.Usage),
		CPUTimeNs:   int64(st.CPU.Usage.Total),
		Pids:        int64(st.Pids.Current),
		PidsLimit:   int64(st.Pids.Limit),
	}
	if l := st.Memory.Usage.Limit; l > 0 && l < 1<<62 {
		out.MemoryLimitBytes = int64(l)
	}
	if out.PidsLimit < 0 || st.Pids.Limit >= 1<<62 {
		out.PidsLimit = 0
	}
	return out, nil
}

// execCgroup names the cgroup, below the sandbox's, that exec id runs in.
func execCgroup(id string) string { return "exec-" + id }

func (s *containerSandbox) KillExecs(_ context.Context, ids []string) error {
	var errs []error
	for _, id := range ids {
		errs = append(errs, s.b.rt.KillSubCgroup(s.id, execCgroup(id)))
	}
	errs = append(errs, s.killTagged(func(pid int, tag string) bool { return slices.Contains(ids, tag) }))
	return errors.Join(errs...)
}

// Destroy kills every process (the runtime kills the whole cgroup), deletes
// the container and removes the bundle: unmounted, then deleted.
func (s *containerSandbox) Destroy(context.Context) error {
	_ = s.b.rt.Resume(s.id) // a frozen process cannot die
	if err := s.b.rt.Delete(s.id, true); err != nil && !errors.Is(err, agentdruntime.ErrNotExist) {
		return fmt.Errorf("deleting container %s: %w", s.id, err)
	}
	return bundle.Remove(s.b.stateDir, s.id)
}
