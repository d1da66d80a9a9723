// Package runtime is agentd's OCI runtime: the lifecycle of OCI bundles over
// runc's libcontainer. It is the only package that imports libcontainer or
// nsenter, and no libcontainer type leaves it.
package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	// Device rules in cgroups (v1 devices controller, v2 eBPF) need this.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/cgroups/systemd"
	"github.com/opencontainers/runc/libcontainer"

	// nsenter's constructor sets up namespaces for `agentd init` before the
	// Go runtime starts; it does nothing in any other process.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// DefaultRoot is where container state lives unless --root says otherwise.
const DefaultRoot = "/run/agentd/oci"

// Runtime manages the containers whose state lives under Root.
type Runtime struct {
	// Root is the state directory; one subdirectory per container.
	Root string
	// SystemdCgroup makes cgroups be created through systemd (cgroupsPath
	// then has the form slice:prefix:name).
	SystemdCgroup bool
	// RootlessCgroups tolerates cgroup permission errors, as runc's
	// --rootless does.
	RootlessCgroups bool
}

// Options configures New.
type Options struct {
	SystemdCgroup bool
	// Rootless is "true", "false" or "auto" (the default: true when not root).
	Rootless string
}

// New returns a Runtime rooted at root (DefaultRoot if empty). It refuses
// options this host cannot honour, rather than ignoring them.
func New(root string, opts Options) (*Runtime, error) {
	if root == "" {
		root = DefaultRoot
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("state root %q: %w", root, err)
	}
	r := &Runtime{Root: abs}
	if opts.SystemdCgroup {
		if !systemd.IsRunningSystemd() {
			return nil, fmt.Errorf("%w: --systemd-cgroup needs systemd as init (PID 1), and this host does not run it; drop the flag to use cgroupfs", ErrUnsupported)
		}
		r.SystemdCgroup = true
	}
	switch opts.Rootless {
	case "", "auto":
		r.RootlessCgroups = os.Geteuid() != 0
	case "true":
		r.RootlessCgroups = true
	case "false":
		if os.Geteuid() != 0 {
			return nil, fmt.Errorf("%w: --rootless=false needs root", ErrInvalidArgument)
		}
	default:
		return nil, fmt.Errorf("%w: --rootless %q: use true, false or auto", ErrInvalidArgument, opts.Rootless)
	}
	return r, nil
}

// Init is the container-side half of libcontainer's two-step start: the
// binary re-executes itself as `<binary> init`, and main must call Init
// before anything else. It never returns.
func Init() {
	libcontainer.Init()
}

// stateDir is the per-container directory; id must be valid.
func (r *Runtime) stateDir(id string) string {
	return filepath.Join(r.Root, id)
}

// load returns the container id, with agentd's sentinel errors.
func (r *Runtime) load(id string) (*libcontainer.Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	c, err := libcontainer.Load(r.Root, id)
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("loading container %s: %w", id, err)
	}
	return c, nil
}
