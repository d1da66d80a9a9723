//go:build linux

package native

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// cgroupParent is where every native sandbox's cgroup lives, in each
// hierarchy: /agentd-native/<sandbox id>/<exec id>. It is apart from the
// container backend's cgroups so that a sandbox and an OCI container with
// the same id can never share (or kill) each other's cgroup.
const cgroupParent = "/agentd-native"

// Bounds on waiting for the kernel; they end loops, they do not pace them.
const (
	freezeTimeout = 5 * time.Second
	killTimeout   = 10 * time.Second
	pollInterval  = 2 * time.Millisecond
)

// cgroup is one control group of a sandbox or an exec, in whichever
// hierarchy the host uses. Two implementations: cgroupV1 and cgroupV2.
type cgroup interface {
	// name is "v1:<path>" or "v2:<path>".
	name() string
	// child makes a cgroup for one exec below this one; it inherits the
	// limits of its parent.
	child(id string) (cgroup, error)
	addProc(pid int) error
	// procDir is the directory whose cgroup.procs and descendants list
	// every process of the cgroup.
	procDir() string
	// setFrozen writes the freezer state; isFrozen reads the state in
	// force (which a frozen ancestor also sets).
	setFrozen(frozen bool) error
	isFrozen() (bool, error)
	// ancestorFrozen: an ancestor (a paused sandbox, for an exec's cgroup)
	// holds this cgroup frozen, whatever it is set to itself.
	ancestorFrozen() bool
	// killFile is cgroup.kill (v2, Linux 5.14+) or "".
	killFile() string
	stats() (*Stats, error)
	oomKills() (uint64, error)
	// dirs are the cgroup's directories, one per hierarchy.
	dirs() []string
}

// hierarchy is the cgroup hierarchy the backend uses: version 1 (with the
// usable v1 controllers), 2, or 0 for none.
type hierarchy struct {
	version int
	// v1 maps each usable v1 controller to its mount point, e.g. "cpu" to
	// /sys/fs/cgroup/cpu,cpuacct.
	v1 map[string]string
}

// newCgroup makes the cgroup of sandbox id with the limits of st. On v1 it
// has the controllers named, or every usable one when controllers is nil;
// on v2 the sandbox's controllers are those of its parent.
func newCgroup(h hierarchy, id string, st *settings, controllers []string) (cgroup, error) {
	rel := cgroupParent + "/" + id
	switch h.version {
	case 1:
		mounts := maps.Clone(h.v1)
		if controllers != nil {
			maps.DeleteFunc(mounts, func(name, _ string) bool {
				return !slices.Contains(controllers, name)
			})
		}
		return newCgroupV1(rel, st, mounts)
	case 2:
		return newCgroupV2(rel, st)
	}
	return nil, fmt.Errorf("%w: no usable cgroup hierarchy", ErrUnsupported)
}

// loadCgroup reattaches to the cgroup of sandbox id, making it again (with
// the limits of st) when it is gone, e.g. after a reboot.
func loadCgroup(version int, id string, st *settings) (cgroup, error) {
	rel := cgroupParent + "/" + id
	h := hierarchy{version: version}
	var cg cgroup
	var err error
	switch version {
	case 1:
		if h.v1, err = v1Hierarchy(); err != nil {
			return nil, fmt.Errorf("cgroup v1: %w", err)
		}
		cg, err = loadCgroupV1(rel, h.v1)
	case 2:
		cg, err = loadCgroupV2(rel)
	default:
		return nil, fmt.Errorf("%w: cgroup version %d", ErrUnsupported, version)
	}
	if err != nil {
		return newCgroup(h, id, st, nil)
	}
	return cg, nil
}

// freeze sets the freezer state and waits until it is in force.
func freeze(cg cgroup, frozen bool) error {
	if err := cg.setFrozen(frozen); err != nil {
		return err
	}
	deadline := time.Now().Add(freezeTimeout)
	for {
		got, err := cg.isFrozen()
		if err != nil {
			return err
		}
		if got == frozen {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: still frozen=%v after %v (is the sandbox paused?)", cg.name(), got, freezeTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// procs lists every process in cg and its descendants.
func procs(cg cgroup) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(cg.procDir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a cgroup removed while walking
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	slices.Sort(pids)
	return slices.Compact(pids), err
}

// killAll kills every process of cg and its descendants, double-forked and
// setsid ones included, and returns once none is left (in a cgroup a frozen
// ancestor holds, once each got SIGKILL): it freezes the
// cgroup so that nothing can fork meanwhile, sends SIGKILL to every process,
// thaws, and repeats until the cgroup is empty.
func killAll(cg cgroup) error {
	if cg.ancestorFrozen() {
		// A paused sandbox: the processes cannot die before it thaws.
		// They get SIGKILL now and die then (destroying it thaws it).
		pids, err := procs(cg)
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		return err
	}
	deadline := time.Now().Add(killTimeout)
	for {
		pids, err := procs(cg)
		if err != nil {
			return fmt.Errorf("listing processes of cgroup %s: %w", cg.name(), err)
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: processes %v survived SIGKILL for %v (is the sandbox paused?)", cg.name(), pids, killTimeout)
		}
		if f := cg.killFile(); f != "" {
			if os.WriteFile(f, []byte("1"), 0) == nil {
				waitEmpty(cg, 100*time.Millisecond)
				continue
			}
		}
		// Best effort: a freeze stuck in FREEZING still stops most forks.
		_ = freeze(cg, true)
		pids, err = procs(cg)
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		// Always thaw: a frozen task does not die of SIGKILL.
		_ = freeze(cg, false)
		if err != nil {
			return err
		}
		waitEmpty(cg, 100*time.Millisecond)
	}
}

// waitEmpty polls until cg has no process or d has passed.
func waitEmpty(cg cgroup, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if pids, err := procs(cg); err != nil || len(pids) == 0 {
			return
		}
		time.Sleep(pollInterval)
	}
}

// removeCgroup removes the (empty) directories of cg, deepest first. A
// cgroup whose last process just exited may answer EBUSY for a moment.
func removeCgroup(cg cgroup) error {
	var errs []error
	for _, dir := range cg.dirs() {
		var tree []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				tree = append(tree, p)
			}
			return nil
		})
		slices.Reverse(tree)
		for _, p := range tree {
			if err := rmdirRetry(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func rmdirRetry(p string) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := unix.Rmdir(p)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup %s: %w", p, err)
		}
		time.Sleep(pollInterval)
	}
}

// readKeyValue returns the value of key in a "key value" per line file
// such as memory.events or memory.oom_control.
func readKeyValue(path, key string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, nil
}

// statsOf reads the memory, CPU and pids figures of cg through its
// library manager (v1 or v2, same shape).
func statsOf(m interface {
	Stats(*cgroups.StatsOptions) (*cgroups.Stats, error)
}, cg cgroup) (*Stats, error) {
	st, err := m.Stats(&cgroups.StatsOptions{Controllers: cgroups.Memory | cgroups.CPU | cgroups.Pids})
	if err != nil {
		return nil, err
	}
	s := &Stats{
		MemoryBytes:      st.MemoryStats.Usage.Usage,
		MemoryPeakBytes:  st.MemoryStats.Usage.MaxUsage,
		MemoryLimitBytes: st.MemoryStats.Usage.Limit,
		CPUTime:          time.Duration(st.CpuStats.CpuUsage.TotalUsage),
		Pids:             st.PidsStats.Current,
		PidsLimit:        st.PidsStats.Limit,
	}
	s.Paused, _ = cg.isFrozen()
	return s, nil
}
