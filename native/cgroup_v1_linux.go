//go:build linux

package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
)

// cgroupV1 is a cgroup in the v1 hierarchies (legacy and hybrid hosts): one
// directory per controller.
type cgroupV1 struct {
	rel   string
	paths map[string]string // controller -> absolute directory
	m     *fs.Manager
}

// v1Hierarchy is the mounted subset of the controllers the backend uses,
// each with its mount point (co-mounted controllers share one, e.g.
// /sys/fs/cgroup/cpu,cpuacct).
func v1Hierarchy() (map[string]string, error) {
	mounts := map[string]string{}
	for _, name := range wantedControllers {
		mnt, err := cgroups.FindCgroupMountpoint("", name)
		if err != nil {
			if cgroups.IsNotFound(err) {
				continue
			}
			return nil, err
		}
		mounts[name] = mnt
	}
	return mounts, nil
}

// v1Paths are the directories of cgroup rel in the controllers of mounts.
func v1Paths(mounts map[string]string, rel string) map[string]string {
	paths := make(map[string]string, len(mounts))
	for name, mnt := range mounts {
		paths[name] = filepath.Join(mnt, rel)
	}
	return paths
}

// newV1Manager is a manager of exactly paths: given no paths, the fs
// manager would join every mounted controller.
func newV1Manager(rel string, paths map[string]string, r *cgroups.Resources) (*fs.Manager, error) {
	return fs.NewManager(&cgroups.Cgroup{Path: rel, Resources: r}, paths)
}

// newCgroupV1 makes cgroup rel in the controllers of mounts.
func newCgroupV1(rel string, st *settings, mounts map[string]string) (*cgroupV1, error) {
	c := &cgroupV1{rel: rel, paths: v1Paths(mounts, rel)}
	r := v1Resources(st, mounts)
	m, err := newV1Manager(rel, c.paths, r)
	if err == nil {
		err = m.Apply(-1) // makes the directories, adds no process
	}
	if err == nil {
		err = setV1(c.paths, r)
	}
	if err != nil {
		// Apply may have made the directories of some controllers.
		_ = removeCgroup(c)
		return nil, fmt.Errorf("creating cgroup v1:%s: %w", rel, err)
	}
	c.m = m
	return c, nil
}

func loadCgroupV1(rel string, mounts map[string]string) (*cgroupV1, error) {
	c := &cgroupV1{rel: rel, paths: v1Paths(mounts, rel)}
	for _, p := range c.paths {
		if _, err := os.Stat(p); err != nil {
			return nil, err // gone in one controller: make it again
		}
	}
	m, err := newV1Manager(rel, c.paths, &cgroups.Resources{SkipDevices: true})
	if err != nil {
		return nil, err
	}
	c.m = m
	return c, nil
}

// v1Resources are the limits of st. Swap is limited to the memory limit
// (no swap at all) where the kernel accounts it, or the memory limit would
// only push the sandbox into swap.
func v1Resources(st *settings, mounts map[string]string) *cgroups.Resources {
	pids := st.Pids
	r := &cgroups.Resources{Memory: st.Memory, PidsLimit: &pids, SkipDevices: true}
	if mnt, ok := mounts["memory"]; ok {
		if _, err := os.Stat(filepath.Join(mnt, "memory.memsw.limit_in_bytes")); err == nil {
			r.MemorySwap = st.Memory
		}
	}
	if st.Cpus > 0 {
		r.CpuQuota, r.CpuPeriod = int64(st.Cpus*cpuPeriodUs), cpuPeriodUs
	}
	return r
}

// setV1 writes the limits of r in the controllers of paths that have any.
// It calls the library's controllers one by one rather than fs.Manager.Set,
// which visits every controller, joined or not, and would leave state in
// the controllers the container backend's managers share (blkio caches the
// names of its weight files from the first path it sees, even "").
func setV1(paths map[string]string, r *cgroups.Resources) error {
	for _, s := range []struct {
		name string
		set  func(string, *cgroups.Resources) error
	}{
		{"memory", (&fs.MemoryGroup{}).Set},
		{"pids", (&fs.PidsGroup{}).Set},
		{"cpu", (&fs.CpuGroup{}).Set},
	} {
		if p, ok := paths[s.name]; ok {
			if err := s.set(p, r); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	return nil
}

func (c *cgroupV1) name() string { return "v1:" + c.rel }

func (c *cgroupV1) child(id string) (cgroup, error) {
	ch := &cgroupV1{rel: c.rel + "/" + id, paths: map[string]string{}}
	for name, p := range c.paths {
		ch.paths[name] = filepath.Join(p, id)
	}
	m, err := newV1Manager(ch.rel, ch.paths, &cgroups.Resources{SkipDevices: true})
	if err == nil {
		err = m.Apply(-1)
	}
	if err != nil {
		return nil, fmt.Errorf("creating cgroup %s/%s: %w", c.name(), id, err)
	}
	ch.m = m
	return ch, nil
}

func (c *cgroupV1) addProc(pid int) error { return c.m.AddPid("", pid) }

func (c *cgroupV1) procDir() string {
	for _, n := range []string{"freezer", "pids", "memory"} {
		if p, ok := c.paths[n]; ok {
			return p
		}
	}
	return ""
}

func (c *cgroupV1) setFrozen(frozen bool) error {
	p, ok := c.paths["freezer"]
	if !ok {
		return fmt.Errorf("%w: no v1 freezer controller", ErrUnsupported)
	}
	state := "THAWED"
	if frozen {
		state = "FROZEN"
	}
	return os.WriteFile(filepath.Join(p, "freezer.state"), []byte(state), 0)
}

// isFrozen reads freezer.state, which reads FROZEN once this cgroup or an
// ancestor is frozen; FREEZING (some tasks still run) is not frozen yet.
func (c *cgroupV1) isFrozen() (bool, error) {
	p, ok := c.paths["freezer"]
	if !ok {
		return false, nil
	}
	data, err := os.ReadFile(filepath.Join(p, "freezer.state"))
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(data)) == "FROZEN", nil
}

func (c *cgroupV1) ancestorFrozen() bool {
	p, ok := c.paths["freezer"]
	if !ok {
		return false
	}
	data, err := os.ReadFile(filepath.Join(p, "freezer.parent_freezing"))
	return err == nil && strings.TrimSpace(string(data)) == "1"
}

func (c *cgroupV1) killFile() string { return "" }

func (c *cgroupV1) stats() (*Stats, error) { return statsOf(c.m, c) }

func (c *cgroupV1) oomKills() (uint64, error) {
	p, ok := c.paths["memory"]
	if !ok {
		return 0, errors.New("no v1 memory controller")
	}
	return fs.OOMKillCount(p)
}

// dirs are the cgroup's directories, once each: co-mounted controllers
// (cpu,cpuacct) share one.
func (c *cgroupV1) dirs() []string {
	var out []string
	for _, p := range c.paths {
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
