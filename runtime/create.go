package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CreateOptions are the options of create and run, as runc names them.
type CreateOptions struct {
	// Bundle is the bundle directory (default: the current directory).
	Bundle string
	// PidFile receives the container init's host pid, written atomically.
	PidFile string
	// ConsoleSocket is a unix socket that receives the pty master when
	// process.terminal is true.
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	// Detach returns once the process has started (run -d; create always
	// detaches).
	Detach bool
	// PreserveFDs passes this many of the caller's descriptors, from fd 3
	// on, to the container process.
	PreserveFDs int
	// Stdio of the container process; nil fields inherit the caller's.
	Stdio Stdio
	// Signals, from [CatchSignals], are forwarded to a foreground Run's
	// process; the caller stops them. If nil, Run catches signals itself
	// and stops before it returns.
	Signals *Signals
}

// creatingMarker is written into the state dir while a create is under way,
// so that `state` can report "creating" as the OCI spec asks.
const creatingMarker = "agentd-creating.json"

// Create creates container id from its bundle: everything but the user
// process, which waits for Start. On failure nothing is left behind: no state
// directory, no cgroup, no mount.
func (r *Runtime) Create(ctx context.Context, id string, opts CreateOptions) error {
	// create always detaches (as runc's): a terminal needs a console socket.
	opts.Detach = true
	p, err := r.prepare(id, opts)
	if err != nil {
		return err
	}
	defer p.cleanup()
	c, proc := p.c, p.proc
	if err := c.Start(proc); err != nil {
		destroy(c)
		return fmt.Errorf("creating container %s: %w", id, err)
	}
	return r.finishStart(c, proc, opts.PidFile)
}

// Run creates and starts container id. Unless opts.Detach, it waits for the
// process, forwards signals to it, destroys the container, and returns the
// process's exit code (128+N if killed by signal N); ctx ending, even
// while the container is still being made, kills the process.
func (r *Runtime) Run(ctx context.Context, id string, opts CreateOptions) (int, error) {
	sigs := opts.Signals
	if sigs == nil && !opts.Detach {
		sigs = CatchSignals()
		defer sigs.Stop()
	}
	p, err := r.prepare(id, opts)
	if err != nil {
		return -1, err
	}
	defer p.cleanup()
	c, proc := p.c, p.proc
	tty, err := p.foregroundConsole(opts.Detach)
	if err != nil {
		destroy(c)
		return -1, err
	}
	if sigs != nil {
		sigs.Ready()
	}
	if err := c.Run(proc); err != nil {
		destroy(c)
		return -1, fmt.Errorf("running container %s: %w", id, err)
	}
	if err := r.finishStart(c, proc, opts.PidFile); err != nil {
		return -1, err
	}
	r.runPoststart(c)
	if opts.Detach {
		return 0, nil
	}
	stop := context.AfterFunc(ctx, func() { _ = proc.Signal(unix.SIGKILL) })
	defer stop()
	code, err := waitForeground(proc, tty, sigs)
	destroy(c)
	return code, err
}

// foregroundConsole prepares a pty relay for `run -t` without a console
// socket; it returns nil when none is needed.
func (p *prepared) foregroundConsole(detach bool) (*foregroundTTY, error) {
	proc := p.proc
	if !p.terminal || proc.ConsoleSocket != nil || detach {
		return nil, nil
	}
	t, err := newForegroundTTY()
	if err != nil {
		return nil, err
	}
	proc.Stdin, proc.Stdout, proc.Stderr = nil, nil, nil
	proc.ConsoleSocket = t.child
	return t, nil
}

// prepared is a created container whose init process is ready to start.
type prepared struct {
	c        *libcontainer.Container
	proc     *libcontainer.Process
	terminal bool
	closers  []func()
}

// cleanup releases what prepare opened; the container itself stays.
func (p *prepared) cleanup() {
	for _, f := range p.closers {
		f()
	}
}

// prepare loads the bundle and creates the libcontainer container and its
// init process. The returned cleanup releases what prepare opened; on error
// everything prepare made is already gone.
func (r *Runtime) prepare(id string, opts CreateOptions) (_ *prepared, retErr error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(r.stateDir(id)); err == nil {
		return nil, fmt.Errorf("container %s: %w", id, ErrExist)
	}
	spec, bundle, err := LoadBundle(opts.Bundle)
	if err != nil {
		return nil, err
	}
	terminal := spec.Process.Terminal
	if terminal && opts.Detach && opts.ConsoleSocket == "" {
		return nil, fmt.Errorf("%w: process.terminal is true but agentd will detach: pass --console-socket", ErrInvalidArgument)
	}
	if opts.ConsoleSocket != "" && !terminal {
		return nil, fmt.Errorf("%w: --console-socket given but process.terminal is false in config.json", ErrInvalidArgument)
	}
	config, err := r.libcontainerConfig(id, spec, bundle, opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.Root, 0o711); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	c, err := libcontainer.Create(r.Root, id, config)
	if err != nil {
		if errors.Is(err, libcontainer.ErrExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrExist)
		}
		return nil, fmt.Errorf("creating container %s: %w", id, err)
	}
	defer func() {
		if retErr != nil {
			destroy(c)
		}
	}()
	if err := writeCreatingMarker(r.stateDir(id), id, bundle, spec.Annotations); err != nil {
		return nil, err
	}
	if spec.Hooks != nil {
		if err := savePoststart(r.stateDir(id), spec.Hooks.Poststart); err != nil {
			return nil, err
		}
	}
	proc, err := newProcess(spec.Process)
	if err != nil {
		return nil, err
	}
	proc.Init = true
	for i := 0; i < opts.PreserveFDs; i++ {
		proc.ExtraFiles = append(proc.ExtraFiles, os.NewFile(uintptr(3+i), fmt.Sprintf("preserved-fd-%d", i)))
	}
	p := &prepared{c: c, proc: proc, terminal: terminal}
	p.closers = append(p.closers, func() { os.Remove(filepath.Join(r.stateDir(id), creatingMarker)) })
	if terminal && opts.ConsoleSocket != "" {
		f, err := dialConsoleSocket(opts.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		proc.ConsoleSocket = f
		p.closers = append(p.closers, func() { f.Close() })
	} else if !terminal {
		opts.Stdio.apply(proc)
	}
	return p, nil
}

// libcontainerConfig converts the OCI spec. The bundle is passed explicitly
// rather than through the working directory, so a long-lived caller (the
// daemon) can create containers without chdir.
func (r *Runtime) libcontainerConfig(id string, spec *specs.Spec, bundle string, opts CreateOptions) (*configs.Config, error) {
	for i, m := range spec.Mounts {
		if m.Source != "" && !filepath.IsAbs(m.Source) && isBind(m) {
			spec.Mounts[i].Source = filepath.Join(bundle, m.Source)
		}
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:       id,
		UseSystemdCgroup: r.SystemdCgroup,
		NoPivotRoot:      opts.NoPivot,
		NoNewKeyring:     opts.NoNewKeyring,
		Spec:             spec,
		RootlessEUID:     os.Geteuid() != 0,
		RootlessCgroups:  r.RootlessCgroups,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidBundle, err)
	}
	takePoststart(config)
	for i, l := range config.Labels {
		if strings.HasPrefix(l, "bundle=") {
			config.Labels[i] = "bundle=" + bundle
		}
	}
	return config, nil
}

func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// finishStart writes the pid file once the init process exists.
func (r *Runtime) finishStart(c *libcontainer.Container, proc *libcontainer.Process, pidFile string) error {
	pid, err := proc.Pid()
	if err != nil {
		destroy(c)
		return fmt.Errorf("container %s: %w", c.ID(), err)
	}
	if err := writePidFile(pidFile, pid); err != nil {
		_ = proc.Signal(os.Kill)
		_, _ = proc.Wait()
		destroy(c)
		return err
	}
	return nil
}

// destroy removes a container's cgroup, mounts and state directory,
// killing what still runs in it.
func destroy(c *libcontainer.Container) {
	_ = c.Signal(os.Kill)
	_ = c.Destroy()
}

type creating struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func writeCreatingMarker(dir, id, bundle string, ann map[string]string) error {
	data, err := json.Marshal(creating{ID: id, Bundle: bundle, Annotations: ann})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, creatingMarker), data, 0o600)
}
