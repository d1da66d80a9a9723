package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/cgroups"
	cgroupsfs "github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	"github.com/opencontainers/runc/libcontainer"
)

// An exec's sub-cgroup is a cgroup below the container's, in every
// hierarchy the container is in, that an exec (ExecOptions.SubCgroup) starts
// in. Everything the exec starts stays in it, whatever it does with its
// process tree, session or environment, so that KillSubCgroup finds all of
// it. The container's limits apply to it as to the rest of the container.

// subCgroupKillTimeout bounds KillSubCgroup's rounds; it ends a loop, it
// does not pace it.
const subCgroupKillTimeout = 10 * time.Second

// checkSubCgroup refuses names that are not one plain path element.
func checkSubCgroup(sub string) error {
	if sub == "" || sub == "." || sub == ".." || strings.ContainsAny(sub, "/\x00") {
		return fmt.Errorf("%w: sub-cgroup %q must be one path element", ErrInvalidArgument, sub)
	}
	return nil
}

// subCgroupPaths are the directories of sub-cgroup sub of container c, by
// controller ("" is the unified hierarchy).
func subCgroupPaths(c *libcontainer.Container, sub string) (map[string]string, error) {
	if err := checkSubCgroup(sub); err != nil {
		return nil, err
	}
	st, err := c.State()
	if err != nil {
		return nil, err
	}
	if len(st.CgroupPaths) == 0 {
		return nil, fmt.Errorf("container %s has no cgroup", c.ID())
	}
	paths := make(map[string]string, len(st.CgroupPaths))
	for ctrl, p := range st.CgroupPaths {
		paths[ctrl] = filepath.Join(p, sub)
	}
	return paths, nil
}

// subCgroupManager manages exactly the directories of paths: the
// library's v1 manager, given paths, touches no other cgroup.
func subCgroupManager(paths map[string]string) (cgroups.Manager, error) {
	cg := &cgroups.Cgroup{Resources: &cgroups.Resources{SkipDevices: true}}
	if cgroups.IsCgroup2UnifiedMode() {
		return fs2.NewManager(cg, paths[""])
	}
	return cgroupsfs.NewManager(cg, paths)
}

// makeSubCgroup creates sub-cgroup sub of container c and returns its
// directories. On v1 the library's Apply also gives a new cpuset cgroup its
// parent's CPUs and memory nodes, without which no process may join it.
func makeSubCgroup(c *libcontainer.Container, sub string) (map[string]string, error) {
	paths, err := subCgroupPaths(c, sub)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			removeSubCgroupDirs(paths)
			return nil, fmt.Errorf("creating sub-cgroup %s: %w", p, err)
		}
	}
	if !cgroups.IsCgroup2UnifiedMode() {
		m, err := subCgroupManager(paths)
		if err == nil {
			err = m.Apply(-1)
		}
		if err != nil {
			removeSubCgroupDirs(paths)
			return nil, fmt.Errorf("creating sub-cgroup %s of container %s: %w", sub, c.ID(), err)
		}
	}
	return paths, nil
}

// removeSubCgroupDirs removes the directories of a sub-cgroup that no
// process is in; one that still has processes stays (the container's
// removal takes it with it).
func removeSubCgroupDirs(paths map[string]string) {
	for _, p := range paths {
		_ = syscall.Rmdir(p)
	}
}

// KillSubCgroup kills every process in sub-cgroup sub of container id and
// removes it: it freezes the sub-cgroup so that nothing forks meanwhile,
// sends SIGKILL to each process, thaws it (frozen processes die only once
// thawed), and repeats until the sub-cgroup is empty. In a paused
// container the processes stay frozen whatever the sub-cgroup does: they
// get SIGKILL once and die when the container is resumed or deleted
// (Delete thaws it first). A sub-cgroup or container that is gone is not an
// error.
func (r *Runtime) KillSubCgroup(id, sub string) error {
	c, err := r.load(id)
	if errors.Is(err, ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	paths, err := subCgroupPaths(c, sub)
	if err != nil {
		return err
	}
	m, err := subCgroupManager(paths)
	if err != nil {
		return err
	}
	if r.Paused(id) {
		pids, err := m.GetAllPids()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("listing the processes of %s/%s: %w", id, sub, err)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return nil
	}
	deadline := time.Now().Add(subCgroupKillTimeout)
	for {
		pids, err := m.GetAllPids()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing the processes of %s/%s: %w", id, sub, err)
		}
		if len(pids) == 0 {
			removeSubCgroupDirs(paths)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v of %s/%s survived SIGKILL for %v", pids, id, sub, subCgroupKillTimeout)
		}
		frozeErr := m.Freeze(cgroups.Frozen)
		if pids, err = m.GetAllPids(); err != nil {
			return fmt.Errorf("listing the processes of %s/%s: %w", id, sub, err)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if frozeErr == nil {
			_ = m.Freeze(cgroups.Thawed)
		}
		time.Sleep(2 * time.Millisecond) // let the killed exit before listing again
	}
}
