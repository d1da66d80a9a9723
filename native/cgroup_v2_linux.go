//go:build linux

package native

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs2"
)

// cgroupV2 is a cgroup in the unified (v2) hierarchy.
type cgroupV2 struct {
	rel string
	dir string
	m   *fs2.Manager
}

func newV2Manager(rel, dir string, r *cgroups.Resources) (*fs2.Manager, error) {
	return fs2.NewManager(&cgroups.Cgroup{Path: rel, Resources: r}, dir)
}

// newCgroupV2 makes cgroup rel, with the controllers of the root enabled
// in its ancestors, and writes the limits of st.
func newCgroupV2(rel string, st *settings) (*cgroupV2, error) {
	dir := filepath.Join(cgroup2Mount, rel)
	r := v2Resources(st)
	m, err := newV2Manager(rel, dir, r)
	if err == nil {
		err = m.Apply(-1) // makes the directory, adds no process
	}
	if err == nil {
		err = m.Set(r)
	}
	if err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("creating cgroup v2:%s: %w", rel, err)
	}
	return &cgroupV2{rel: rel, dir: dir, m: m}, nil
}

func loadCgroupV2(rel string) (*cgroupV2, error) {
	dir := filepath.Join(cgroup2Mount, rel)
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	m, err := newV2Manager(rel, dir, &cgroups.Resources{SkipDevices: true})
	if err != nil {
		return nil, err
	}
	return &cgroupV2{rel: rel, dir: dir, m: m}, nil
}

// v2Resources are the limits of st. Swap is off (memory.swap.max 0, which
// the library skips where the kernel does not account swap), so that the
// memory limit is a real one: memory+swap equal to memory means no swap.
func v2Resources(st *settings) *cgroups.Resources {
	pids := st.Pids
	r := &cgroups.Resources{Memory: st.Memory, MemorySwap: st.Memory, PidsLimit: &pids, SkipDevices: true}
	if st.Cpus > 0 {
		r.CpuQuota, r.CpuPeriod = int64(st.Cpus*cpuPeriodUs), cpuPeriodUs
	}
	return r
}

func (c *cgroupV2) name() string { return "v2:" + c.rel }

// child makes the directory only: the sandbox's cgroup enables no
// controller for its children, whose processes count against its limits.
func (c *cgroupV2) child(id string) (cgroup, error) {
	ch := &cgroupV2{rel: c.rel + "/" + id, dir: filepath.Join(c.dir, id)}
	m, err := newV2Manager(ch.rel, ch.dir, &cgroups.Resources{SkipDevices: true})
	if err == nil {
		err = os.MkdirAll(ch.dir, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("creating cgroup %s/%s: %w", c.name(), id, err)
	}
	ch.m = m
	return ch, nil
}

func (c *cgroupV2) addProc(pid int) error { return c.m.AddPid("", pid) }

func (c *cgroupV2) procDir() string { return c.dir }

func (c *cgroupV2) setFrozen(frozen bool) error {
	v := "0"
	if frozen {
		v = "1"
	}
	return os.WriteFile(filepath.Join(c.dir, "cgroup.freeze"), []byte(v), 0)
}

// isFrozen reads "frozen" in cgroup.events, which is 1 while this cgroup
// or an ancestor is frozen.
func (c *cgroupV2) isFrozen() (bool, error) {
	v, err := readKeyValue(filepath.Join(c.dir, "cgroup.events"), "frozen")
	return v == 1, err
}

func (c *cgroupV2) ancestorFrozen() bool {
	self, err := os.ReadFile(filepath.Join(c.dir, "cgroup.freeze"))
	if err != nil || strings.TrimSpace(string(self)) != "0" {
		return false
	}
	frozen, err := c.isFrozen()
	return err == nil && frozen
}

func (c *cgroupV2) killFile() string {
	f := filepath.Join(c.dir, "cgroup.kill")
	if _, err := os.Stat(f); err != nil {
		return ""
	}
	return f
}

func (c *cgroupV2) stats() (*Stats, error) { return statsOf(c.m, c) }

func (c *cgroupV2) oomKills() (uint64, error) { return c.m.OOMKillCount() }

func (c *cgroupV2) dirs() []string { return []string{c.dir} }
