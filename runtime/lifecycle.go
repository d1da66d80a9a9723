package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// State is the OCI state of a container (runtime.md), with the extra fields
// runc prints and containerd's go-runc reads.
type State struct {
	specs.State
	Rootfs  string    `json:"rootfs,omitempty"`
	Created time.Time `json:"created,omitzero"`
}

// State returns the container's state. A container whose create is still
// under way is "creating".
func (r *Runtime) State(id string) (*State, error) {
	c, err := r.load(id)
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			if st, ok := r.creatingState(id); ok {
				return st, nil
			}
		}
		return nil, err
	}
	return ociState(c)
}

func (r *Runtime) creatingState(id string) (*State, bool) {
	data, err := os.ReadFile(filepath.Join(r.stateDir(id), creatingMarker))
	if err != nil {
		return nil, false
	}
	var m creating
	if json.Unmarshal(data, &m) != nil {
		return nil, false
	}
	return &State{State: specs.State{
		Version: specs.Version, ID: id, Status: specs.StateCreating,
		Bundle: m.Bundle, Annotations: m.Annotations,
	}}, true
}

func ociState(c *libcontainer.Container) (*State, error) {
	oci, err := c.OCIState()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID(), err)
	}
	st, err := c.State()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID(), err)
	}
	if oci.Status == specs.StateStopped {
		oci.Pid = 0
	}
	return &State{State: *oci, Rootfs: st.BaseState.Config.Rootfs, Created: st.BaseState.Created.UTC()}, nil
}

// List returns the state of every container under the root, sorted by id.
// Containers whose state cannot be read are skipped.
func (r *Runtime) List() ([]*State, error) {
	entries, err := os.ReadDir(r.Root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing %s: %w", r.Root, err)
	}
	var out []*State
	for _, e := range entries {
		if !e.IsDir() || ValidateID(e.Name()) != nil {
			continue
		}
		if st, err := r.State(e.Name()); err == nil {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Start runs the user process of a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	status, err := c.Status()
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	if status != libcontainer.Created {
		return fmt.Errorf("%w: cannot start container %s: it is %s, and only a created container can be started", ErrInvalidState, id, status)
	}
	if err := c.Exec(); err != nil {
		return fmt.Errorf("starting container %s: %w", id, err)
	}
	r.runPoststart(c)
	return nil
}

// Kill sends sig to the container's init, or with all to every process in
// it. A stopped container cannot be signalled, except with all, as in runc:
// then whatever is left in its cgroup gets the signal and Kill succeeds. A
// container without its own PID namespace can outlive its init, and
// containerd's shim sends `kill --all ID 9` when such an init exits (a
// Kubernetes pod with hostPID).
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	status, err := c.Status()
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	if status == libcontainer.Stopped {
		if !all {
			return fmt.Errorf("%w: cannot kill container %s: it is stopped", ErrNotRunning, id)
		}
		_ = signalAll(c, sig) // the cgroup may be gone already: nothing is left
		return nil
	}
	if !all {
		if err := c.Signal(sig); err != nil {
			return fmt.Errorf("signalling container %s: %w", id, err)
		}
		return nil
	}
	if err := signalAll(c, sig); err != nil {
		return err
	}
	if sig == unix.SIGKILL && status == libcontainer.Paused {
		_ = c.Resume() // a frozen process cannot die until thawed
	}
	return nil
}

// signalAll sends sig to every process in c's cgroup.
func signalAll(c *libcontainer.Container, sig unix.Signal) error {
	pids, err := c.Processes()
	if err != nil {
		return fmt.Errorf("container %s: %w", c.ID(), err)
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, sig)
	}
	return nil
}

// Delete removes a stopped container: its state, cgroup and mounts, running
// the poststop hooks. A created container (whose process never started) is
// killed and removed too, as runc does: containerd's shim deletes a task
// that was created but never started with a plain `delete`, which is what
// CRI does to a container removed before it started. A running or paused
// container is left untouched unless force, which kills it first. With
// force a missing container is not an error.
func (r *Runtime) Delete(id string, force bool) error {
	c, err := r.load(id)
	if err != nil {
		if errors.Is(err, ErrNotExist) && ValidateID(id) == nil {
			// An aborted create may leave a directory without state.json.
			if _, serr := os.Stat(r.stateDir(id)); serr == nil && force {
				return os.RemoveAll(r.stateDir(id))
			}
			if force {
				return nil
			}
		}
		return err
	}
	status, err := c.Status()
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	if status != libcontainer.Stopped {
		if !force && status != libcontainer.Created {
			return fmt.Errorf("%w: cannot delete container %s: it is %s; stop it first or use --force", ErrInvalidState, id, status)
		}
		if err := killAndWait(c); err != nil {
			return err
		}
	}
	if err := c.Destroy(); err != nil {
		return fmt.Errorf("deleting container %s: %w", id, err)
	}
	return nil
}

// killAndWait kills every process of c and waits, bounded, until none is
// left. libcontainer's SIGKILL reaches them all: killing the init of a PID
// namespace kills the namespace, and without one it kills the cgroup
// (cgroup.kill, or freeze, kill, thaw). A paused container is thawed after:
// a frozen process dies only then, and libcontainer's cgroup.kill path
// leaves it frozen. The init is not agentd's child, so there is nothing to
// wait(2) on.
func killAndWait(c *libcontainer.Container) error {
	_ = c.Signal(unix.SIGKILL)
	if st, _ := c.Status(); st == libcontainer.Paused {
		_ = c.Resume()
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := c.Status(); err == nil && st == libcontainer.Stopped {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("container %s: processes still running 10s after SIGKILL", c.ID())
}

// Pause freezes every process of a running container.
func (r *Runtime) Pause(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := c.Pause(); err != nil {
		return stateError("pausing", id, err)
	}
	return nil
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := c.Resume(); err != nil {
		return stateError("resuming", id, err)
	}
	return nil
}

// stateError wraps libcontainer's state errors as ErrInvalidState.
func stateError(op, id string, err error) error {
	for _, e := range []error{libcontainer.ErrNotRunning, libcontainer.ErrNotPaused, libcontainer.ErrPaused, libcontainer.ErrRunning} {
		if errors.Is(err, e) {
			return fmt.Errorf("%w: %s container %s: %v", ErrInvalidState, op, id, err)
		}
	}
	return fmt.Errorf("%s container %s: %w", op, id, err)
}

// Ps returns the host pids of every process in the container.
func (r *Runtime) Ps(id string) ([]int, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	pids, err := c.Processes()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	return pids, nil
}

// Paused reports whether container id is paused: its processes cannot die
// until it is resumed (or deleted, which resumes it first).
func (r *Runtime) Paused(id string) bool {
	c, err := r.load(id)
	if err != nil {
		return false
	}
	st, err := c.Status()
	return err == nil && st == libcontainer.Paused
}
