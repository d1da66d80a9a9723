package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/native"
	"github.com/agentd/agentd/supervisor/api"
)

// nativeBackend runs sandboxes with the native package: Landlock, seccomp,
// an unprivileged user and a cgroup per sandbox, on the host file system.
// Each sandbox keeps its scratch dir in sandboxes/<id>/native.
type nativeBackend struct {
	stateDir string
	log      *slog.Logger
}

// NewNativeBackend returns the native backend.
func NewNativeBackend(stateDir string, log *slog.Logger) Backend {
	return &nativeBackend{stateDir: stateDir, log: log}
}

func (b *nativeBackend) Name() string { return bundle.BackendNative }

func (b *nativeBackend) dir(id string) string {
	return filepath.Join(b.stateDir, "sandboxes", id, "native")
}

func (b *nativeBackend) Create(_ context.Context, id string, spec *bundle.Spec) (Sandbox, error) {
	// The sandbox user must pass through the state dir to its scratch dir;
	// o+x lets it traverse without listing anything.
	for _, d := range []string{b.stateDir, filepath.Join(b.stateDir, "sandboxes")} {
		if err := addSearch(d); err != nil {
			return nil, err
		}
	}
	sb, err := native.Create(id, spec, b.dir(id))
	if err != nil {
		_ = os.Remove(filepath.Dir(b.dir(id))) // the parent Create made, if empty
		return nil, nativeErr(err)
	}
	return &nativeSandbox{sb: sb}, nil
}

func addSearch(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o001 != 0 {
		return nil
	}
	return os.Chmod(dir, st.Mode().Perm()|0o011)
}

func (b *nativeBackend) Load(_ context.Context, id string) (Sandbox, error) {
	sb, err := native.Load(id, b.dir(id))
	if err != nil {
		return nil, nativeErr(err)
	}
	return &nativeSandbox{sb: sb}, nil
}

func (b *nativeBackend) Probe(context.Context) (api.Capabilities, error) {
	p := native.Probe()
	abi := fmt.Sprintf("kernel ABI %d (library %d)", p.LandlockABI, p.LandlockLibABI)
	c := api.Capabilities{Backend: b.Name(), Features: []api.Feature{
		{Name: "root", Enforced: p.Root, Detail: "cgroups, user switch and network namespaces need root"},
		{Name: "landlock", Enforced: min(p.LandlockABI, p.LandlockLibABI) >= native.MinLandlockABI, Detail: abi},
		{Name: "seccomp", Enforced: p.Seccomp(), Detail: fmt.Sprintf("kernel %v, libseccomp %v", p.SeccompKernel, p.SeccompLibrary)},
		{Name: "cgroups", Enforced: p.CgroupVersion > 0, Detail: fmt.Sprintf("%s (v%d): %s", p.CgroupMode, p.CgroupVersion, strings.Join(p.CgroupControllers, ","))},
		{Name: "netns", Enforced: p.NetNamespace, Detail: "empty network namespace for network none"},
		{Name: "snapshots", Enforced: false, Detail: "not offered: commands work on the host's own files"},
	}}
	if err := p.Refusal(); err != nil {
		c.Reason = err.Error()
	} else {
		c.Available = true
	}
	return c, nil
}

// nativeErr maps the native package's sentinels to the API's.
func nativeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, native.ErrNotExist):
		return fmt.Errorf("%w: %v", api.ErrNotExist, err)
	case errors.Is(err, native.ErrCommandNotFound):
		return fmt.Errorf("%w: %v", api.ErrCommandNotFound, err)
	case errors.Is(err, native.ErrNotExecutable):
		return fmt.Errorf("%w: %v", api.ErrNotExecutable, err)
	case errors.Is(err, native.ErrPaused):
		return fmt.Errorf("%w: %v", api.ErrInvalidState, err)
	case errors.Is(err, native.ErrDestroyed):
		return fmt.Errorf("%w: %v", api.ErrNotRunning, err)
	case errors.Is(err, native.ErrInvalidSpec), errors.Is(err, native.ErrInvalidWorkdir), errors.Is(err, native.ErrInvalidID):
		return fmt.Errorf("%w: %v", api.ErrInvalidArgument, err)
	case errors.Is(err, native.ErrUnsupported):
		return fmt.Errorf("%w: %v", api.ErrUnsupported, err)
	}
	return err
}

type nativeSandbox struct {
	sb *native.Sandbox
}

// Enforced is what the sandbox's commands get, for inspect.
func (s *nativeSandbox) Enforced() any { return s.sb.Report() }

func (s *nativeSandbox) Exec(_ context.Context, cfg *ExecConfig) (Process, error) {
	p := native.Process{ID: cfg.ID, Args: cfg.Args, Env: cfg.Env, User: cfg.User, Timeout: cfg.Timeout,
		Stdin: cfg.Stdin, Stdout: cfg.Stdout, Stderr: cfg.Stderr}
	if cfg.Workdir != "" {
		// The API speaks absolute paths; native ones are relative to the
		// sandbox root, and must stay below it.
		rel, err := filepath.Rel(s.sb.Root(), cfg.Workdir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, fmt.Errorf("%w: workdir %s is outside the native sandbox's root %s",
				api.ErrInvalidArgument, cfg.Workdir, s.sb.Root())
		}
		p.Workdir = rel
	}
	var master *os.File
	if cfg.Tty {
		m, slave, err := openPTY(cfg.Rows, cfg.Cols)
		if err != nil {
			return nil, err
		}
		defer slave.Close()
		master = m
		p.Stdin, p.Stdout, p.Stderr = slave, slave, slave
		p.Tty = true // the command's controlling terminal
	}
	// The command's lifetime is not tied to the request: Kill ends it.
	exe, err := s.sb.Start(context.Background(), p)
	if err != nil {
		if master != nil {
			master.Close()
		}
		return nil, nativeErr(err)
	}
	np := &nativeProc{exe: exe}
	if master != nil {
		np.tty = relayPTY(master, cfg)
	}
	return np, nil
}

func (s *nativeSandbox) Pause(context.Context) error  { return nativeErr(s.sb.Pause()) }
func (s *nativeSandbox) Resume(context.Context) error { return nativeErr(s.sb.Resume()) }

func (s *nativeSandbox) Stats(context.Context) (*api.Stats, error) {
	st, err := s.sb.Stats()
	if err != nil {
		return nil, nativeErr(err)
	}
	return &api.Stats{MemoryBytes: int64(st.MemoryBytes), MemoryLimitBytes: int64(st.MemoryLimitBytes),
		CPUTimeNs: int64(st.CPUTime), Pids: int64(st.Pids), PidsLimit: int64(st.PidsLimit)}, nil
}

func (s *nativeSandbox) KillExecs(_ context.Context, ids []string) error {
	var errs []error
	for _, id := range ids {
		errs = append(errs, s.sb.KillExec(id))
	}
	return errors.Join(errs...)
}

func (s *nativeSandbox) Destroy(context.Context) error { return nativeErr(s.sb.Destroy()) }

type nativeProc struct {
	exe *native.Execution
	tty *ptyRelay // with a tty
}

func (p *nativeProc) Pid() int    { return p.exe.Pid() }
func (p *nativeProc) Kill() error { return p.exe.Kill() }

func (p *nativeProc) Wait() (ExitStatus, error) {
	res, err := p.exe.Wait()
	p.tty.close()
	if err != nil {
		return ExitStatus{}, err
	}
	st := ExitStatus{Code: res.ExitCode, Signal: int(res.Signal), TimedOut: res.TimedOut}
	return st, nil
}

func (p *nativeProc) Resize(rows, cols uint16) error { return p.tty.resize(rows, cols) }

// DefaultBackends returns the backends `agentd daemon` serves: container
// and native.
func DefaultBackends(stateDir, runDir string, log *slog.Logger) ([]Backend, error) {
	cb, err := NewContainerBackend(stateDir, runDir, log)
	if err != nil {
		return nil, fmt.Errorf("container backend: %w", err)
	}
	return []Backend{cb, NewNativeBackend(stateDir, log)}, nil
}
