//go:build linux

package native

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
)

// cgroupV2 is a cgroup in the unified (v2) hierarchy.
type cgroupV2 struct {
	rel string
	dir string
	m   *cgroup2.Manager
}

func newCgroupV2(rel string, st *settings) (*cgroupV2, error) {
	m, err := cgroup2.NewManager(cgroup2Mount, rel, v2Resources(st))
	if err != nil {
		return nil, fmt.Errorf("creating cgroup v2:%s: %w", rel, err)
	}
	return &cgroupV2{rel: rel, dir: filepath.Join(cgroup2Mount, rel), m: m}, nil
}

func loadCgroupV2(rel string) (*cgroupV2, error) {
	dir := filepath.Join(cgroup2Mount, rel)
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	m, err := cgroup2.Load(rel)
	if err != nil {
		return nil, err
	}
	return &cgroupV2{rel: rel, dir: dir, m: m}, nil
}

// v2Resources are the limits of st; swap is off where the kernel accounts
// it, so that the memory limit is a real one.
func v2Resources(st *settings) *cgroup2.Resources {
	mem := st.Memory
	r := &cgroup2.Resources{
		Memory: &cgroup2.Memory{Max: &mem},
		Pids:   &cgroup2.Pids{Max: st.Pids},
	}
	if m, _ := filepath.Glob(filepath.Join(cgroup2Mount, "*", "memory.swap.max")); len(m) > 0 {
		zero := int64(0)
		r.Memory.Swap = &zero
	}
	if st.Cpus > 0 {
		quota, period := int64(st.Cpus*cpuPeriodUs), uint64(cpuPeriodUs)
		r.CPU = &cgroup2.CPU{Max: cgroup2.NewCPUMax(&quota, &period)}
	}
	return r
}

func (c *cgroupV2) name() string { return "v2:" + c.rel }

func (c *cgroupV2) child(id string) (cgroup, error) {
	m, err := c.m.NewChild(id, nil)
	if err != nil {
		return nil, fmt.Errorf("creating cgroup %s/%s: %w", c.name(), id, err)
	}
	return &cgroupV2{rel: c.rel + "/" + id, dir: filepath.Join(c.dir, id), m: m}, nil
}

func (c *cgroupV2) addProc(pid int) error { return c.m.AddProc(uint64(pid)) }

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

func (c *cgroupV2) killFile() string {
	f := filepath.Join(c.dir, "cgroup.kill")
	if _, err := os.Stat(f); err != nil {
		return ""
	}
	return f
}

func (c *cgroupV2) stats() (*Stats, error) {
	m, err := c.m.Stat()
	if err != nil {
		return nil, err
	}
	s := &Stats{}
	if m.Memory != nil {
		s.MemoryBytes, s.MemoryLimitBytes, s.MemoryPeakBytes = m.Memory.Usage, m.Memory.UsageLimit, m.Memory.MaxUsage
	}
	if m.CPU != nil {
		s.CPUTime = time.Duration(m.CPU.UsageUsec) * time.Microsecond
	}
	if m.Pids != nil {
		s.Pids, s.PidsLimit = m.Pids.Current, m.Pids.Limit
	}
	s.Paused, _ = c.isFrozen()
	return s, nil
}

func (c *cgroupV2) oomKills() (uint64, error) {
	return readKeyValue(filepath.Join(c.dir, "memory.events"), "oom_kill")
}

func (c *cgroupV2) dirs() []string { return []string{c.dir} }
