package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions describe a process to start in a running container.
type ExecOptions struct {
	Process       *specs.Process
	Detach        bool
	PidFile       string
	ConsoleSocket string
	// PreserveFDs passes this many of the caller's descriptors, from fd 3
	// on, to the process (conmon's `exec --preserve-fds`).
	PreserveFDs int
	Stdio       Stdio
	// SubCgroup, if set, starts the process in a new cgroup of that name
	// below the container's (see KillSubCgroup).
	SubCgroup string
	// Signals, from [CatchSignals] for a foreground exec, are all caught
	// before the process starts ([Process.WaitForeground] forwards them).
	Signals *Signals
}

// Process is a process agentd started in a container.
type Process struct {
	p         *libcontainer.Process
	tty       *foregroundTTY
	subCgroup map[string]string // directories of ExecOptions.SubCgroup
}

// RemoveSubCgroup removes the process's sub-cgroup (ExecOptions.SubCgroup)
// if nothing runs in it any more; one that background processes of the
// exec still hold stays until they end or the container is removed.
func (p *Process) RemoveSubCgroup() {
	if p.subCgroup != nil {
		removeSubCgroupDirs(p.subCgroup)
	}
}

// Pid is the process's host pid.
func (p *Process) Pid() int {
	pid, _ := p.p.Pid()
	return pid
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.p.Signal(sig) }

// Wait waits for the process and returns its exit code (128+N if killed by
// signal N).
func (p *Process) Wait() (int, error) {
	ps, err := p.p.Wait()
	if ps == nil && err != nil {
		return -1, err
	}
	return exitCode(ps), nil
}

// WaitForeground is Wait for a command-line caller: it relays the terminal
// if there is one and forwards the signals caught on sigs since
// [CatchSignals], which the caller called before [Runtime.Exec] and stops
// if it lives on.
func (p *Process) WaitForeground(sigs *Signals) (int, error) {
	return waitForeground(p.p, p.tty, sigs)
}

// ProcessFromBundle returns the process of the container's config.json, the
// base that `exec` overrides, as runc does.
func (r *Runtime) ProcessFromBundle(id string) (*specs.Process, error) {
	st, err := r.State(id)
	if err != nil {
		return nil, err
	}
	spec, _, err := LoadBundle(st.Bundle)
	if err != nil {
		return nil, err
	}
	return spec.Process, nil
}

// ParseProcess decodes an exec --process file.
func ParseProcess(data []byte) (*specs.Process, error) {
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%w: process: %s", ErrInvalidArgument, describeJSONError(data, err))
	}
	if err := checkProcess(&p, "process"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return &p, nil
}

// Exec starts a process in container id, which must be created or running.
func (r *Runtime) Exec(ctx context.Context, id string, opts ExecOptions) (_ *Process, retErr error) {
	if err := checkProcess(opts.Process, "process"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	status, err := c.Status()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	if status == libcontainer.Stopped || status == libcontainer.Paused {
		return nil, fmt.Errorf("%w: cannot exec in container %s: it is %s", ErrInvalidState, id, status)
	}
	terminal := opts.Process.Terminal
	if terminal && opts.Detach && opts.ConsoleSocket == "" {
		return nil, fmt.Errorf("%w: a detached exec with a terminal needs --console-socket", ErrInvalidArgument)
	}
	if opts.ConsoleSocket != "" && !terminal {
		return nil, fmt.Errorf("%w: --console-socket needs --tty", ErrInvalidArgument)
	}
	lp, err := newProcess(opts.Process)
	if err != nil {
		return nil, err
	}
	lp.Init = false
	for i := 0; i < opts.PreserveFDs; i++ {
		lp.ExtraFiles = append(lp.ExtraFiles, os.NewFile(uintptr(3+i), fmt.Sprintf("preserved-fd-%d", i)))
	}
	proc := &Process{p: lp}
	switch {
	case terminal && opts.ConsoleSocket != "":
		f, err := dialConsoleSocket(opts.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		lp.ConsoleSocket = f
	case terminal:
		t, err := newForegroundTTY()
		if err != nil {
			return nil, err
		}
		lp.ConsoleSocket = t.child
		proc.tty = t
	default:
		opts.Stdio.apply(lp)
	}
	if opts.SubCgroup != "" {
		paths, err := makeSubCgroup(c, opts.SubCgroup)
		if err != nil {
			return nil, err
		}
		defer func() {
			if retErr != nil {
				removeSubCgroupDirs(paths)
			}
		}()
		lp.SubCgroupPaths = map[string]string{"": opts.SubCgroup}
		proc.subCgroup = paths
	}
	if opts.Signals != nil {
		opts.Signals.Ready()
	}
	if err := c.Run(lp); err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	if err := writePidFile(opts.PidFile, proc.Pid()); err != nil {
		_ = lp.Signal(os.Kill)
		_, _ = lp.Wait()
		return nil, err
	}
	return proc, nil
}
