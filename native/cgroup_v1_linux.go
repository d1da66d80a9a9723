//go:build linux

package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupV1 is a cgroup in the v1 hierarchies (legacy and hybrid hosts): one
// directory per controller.
type cgroupV1 struct {
	rel    string
	cg     cgroup1.Cgroup
	paths  map[string]string // controller -> absolute directory
	subsys []cgroup1.Subsystem
}

// v1Hierarchy is the mounted subset of the controllers the backend uses.
func v1Hierarchy() ([]cgroup1.Subsystem, error) {
	all, err := cgroup1.Default()
	if err != nil {
		return nil, err
	}
	var out []cgroup1.Subsystem
	for _, s := range all {
		if slices.Contains(wantedControllers, string(s.Name())) {
			out = append(out, s)
		}
	}
	return out, nil
}

// newCgroupV1 makes cgroup rel in the hierarchies of subsys.
func newCgroupV1(rel string, st *settings, subsys []cgroup1.Subsystem) (*cgroupV1, error) {
	cg, err := cgroup1.New(cgroup1.StaticPath(rel), v1Resources(st, subsys), cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return subsys, nil }))
	if err != nil {
		// New may have made the directories of some controllers.
		_ = removeCgroup(wrapV1(rel, nil, subsys))
		return nil, fmt.Errorf("creating cgroup v1:%s: %w", rel, err)
	}
	return wrapV1(rel, cg, subsys), nil
}

func loadCgroupV1(rel string, subsys []cgroup1.Subsystem) (*cgroupV1, error) {
	for _, s := range subsys {
		if _, err := os.Stat(subsysPath(s, rel)); err != nil {
			return nil, err // gone in one controller: make it again
		}
	}
	cg, err := cgroup1.Load(cgroup1.StaticPath(rel), cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return subsys, nil }))
	if err != nil {
		return nil, err
	}
	return wrapV1(rel, cg, subsys), nil
}

func wrapV1(rel string, cg cgroup1.Cgroup, subsys []cgroup1.Subsystem) *cgroupV1 {
	c := &cgroupV1{rel: rel, cg: cg, paths: map[string]string{}, subsys: subsys}
	for _, s := range subsys {
		c.paths[string(s.Name())] = subsysPath(s, rel)
	}
	return c
}

// subsysPath is the directory of cgroup rel in controller s.
func subsysPath(s cgroup1.Subsystem, rel string) string {
	if p, ok := s.(interface{ Path(string) string }); ok {
		return p.Path(rel)
	}
	return ""
}

// v1Resources are the limits of st. Swap is limited to the memory limit
// (no swap at all) where the kernel accounts it, or the memory limit would
// only push the sandbox into swap.
func v1Resources(st *settings, subsys []cgroup1.Subsystem) *specs.LinuxResources {
	mem, pids := st.Memory, st.Pids
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &mem},
		Pids:   &specs.LinuxPids{Limit: &pids},
	}
	for _, s := range subsys {
		if s.Name() != cgroup1.Memory {
			continue
		}
		root := filepath.Dir(subsysPath(s, "/x"))
		if _, err := os.Stat(filepath.Join(root, "memory.memsw.limit_in_bytes")); err == nil {
			swap := mem
			r.Memory.Swap = &swap
		}
	}
	if st.Cpus > 0 {
		quota, period := int64(st.Cpus*cpuPeriodUs), uint64(cpuPeriodUs)
		r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	return r
}

func (c *cgroupV1) name() string { return "v1:" + c.rel }

func (c *cgroupV1) child(id string) (cgroup, error) {
	cg, err := c.cg.New(id, &specs.LinuxResources{})
	if err != nil {
		return nil, fmt.Errorf("creating cgroup %s/%s: %w", c.name(), id, err)
	}
	return wrapV1(c.rel+"/"+id, cg, c.subsys), nil
}

func (c *cgroupV1) addProc(pid int) error { return c.cg.AddProc(uint64(pid)) }

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

// isFrozen reads freezer.state, which reads FROZEN (or FREEZING) while
// this cgroup or an ancestor is frozen.
func (c *cgroupV1) isFrozen() (bool, error) {
	p, ok := c.paths["freezer"]
	if !ok {
		return false, nil
	}
	data, err := os.ReadFile(filepath.Join(p, "freezer.state"))
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(data)) != "THAWED", nil
}

func (c *cgroupV1) killFile() string { return "" }

func (c *cgroupV1) stats() (*Stats, error) {
	m, err := c.cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return nil, err
	}
	s := &Stats{}
	if m.Memory != nil && m.Memory.Usage != nil {
		s.MemoryBytes, s.MemoryPeakBytes, s.MemoryLimitBytes = m.Memory.Usage.Usage, m.Memory.Usage.Max, m.Memory.Usage.Limit
	}
	if m.CPU != nil && m.CPU.Usage != nil {
		s.CPUTime = time.Duration(m.CPU.Usage.Total)
	}
	if m.Pids != nil {
		s.Pids, s.PidsLimit = m.Pids.Current, m.Pids.Limit
	}
	s.Paused, _ = c.isFrozen()
	return s, nil
}

func (c *cgroupV1) oomKills() (uint64, error) {
	p, ok := c.paths["memory"]
	if !ok {
		return 0, errors.New("no v1 memory controller")
	}
	return readKeyValue(filepath.Join(p, "memory.oom_control"), "oom_kill")
}

func (c *cgroupV1) dirs() []string {
	var out []string
	for _, p := range c.paths {
		out = append(out, p)
	}
	return out
}
