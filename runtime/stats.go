package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/types"
)

// Stats returns the container's resource usage in the form `runc events`
// prints (runc's types.Stats).
func (r *Runtime) Stats(id string) (*types.Stats, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return containerStats(c)
}

func containerStats(c *libcontainer.Container) (*types.Stats, error) {
	if st, err := c.Status(); err == nil && st == libcontainer.Stopped {
		return nil, fmt.Errorf("%w: container %s is stopped", ErrNotRunning, c.ID())
	}
	ls, err := c.Stats()
	if err != nil {
		return nil, fmt.Errorf("stats of container %s: %w", c.ID(), err)
	}
	s := &types.Stats{NetworkInterfaces: ls.Interfaces}
	if cg := ls.CgroupStats; cg != nil {
		convertCPU(&s.CPU, &cg.CpuStats)
		convertMemory(&s.Memory, &cg.MemoryStats)
		s.Pids = types.Pids{Current: cg.PidsStats.Current, Limit: cg.PidsStats.Limit}
		s.Blkio = types.Blkio{
			IoServiceBytesRecursive: blkio(cg.BlkioStats.IoServiceBytesRecursive),
			IoServicedRecursive:     blkio(cg.BlkioStats.IoServicedRecursive),
		}
	}
	return s, nil
}

func convertCPU(dst *types.Cpu, src *cgroups.CpuStats) {
	dst.Usage = types.CpuUsage{
		Total: src.CpuUsage.TotalUsage, Percpu: src.CpuUsage.PercpuUsage,
		Kernel: src.CpuUsage.UsageInKernelmode, User: src.CpuUsage.UsageInUsermode,
	}
	dst.Throttling = types.Throttling{
		Periods: src.ThrottlingData.Periods, ThrottledPeriods: src.ThrottlingData.ThrottledPeriods,
		ThrottledTime: src.ThrottlingData.ThrottledTime,
	}
}

func convertMemory(dst *types.Memory, src *cgroups.MemoryStats) {
	entry := func(d cgroups.MemoryData) types.MemoryEntry {
		return types.MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
	}
	dst.Cache = src.Cache
	dst.Usage = entry(src.Usage)
	dst.Swap = entry(src.SwapUsage)
	dst.Kernel = entry(src.KernelUsage)
	dst.KernelTCP = entry(src.KernelTCPUsage)
	dst.Raw = src.Stats
}

func blkio(in []cgroups.BlkioStatEntry) []types.BlkioEntry {
	out := make([]types.BlkioEntry, 0, len(in))
	for _, e := range in {
		out = append(out, types.BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return out
}

// Events writes the container's events to w as JSON lines, as `runc events`
// does: with once, a single stats event; otherwise a stats event every
// interval and an "oom" event whenever the kernel OOM-kills in it, until
// the container stops or ctx ends.
func (r *Runtime) Events(ctx context.Context, id string, interval time.Duration, once bool, w io.Writer) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	emitStats := func() error {
		s, err := containerStats(c)
		if err != nil {
			return err
		}
		return enc.Encode(types.Event{Type: "stats", ID: id, Data: s})
	}
	if once {
		return emitStats()
	}
	if interval <= 0 {
		return fmt.Errorf("%w: --interval must be positive", ErrInvalidArgument)
	}
	oom, err := c.NotifyOOM()
	if err != nil {
		oom = nil // no OOM notifications on this host; stats still flow
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-oom:
			if !ok {
				return nil // the cgroup is gone: the container stopped
			}
			if err := enc.Encode(types.Event{Type: "oom", ID: id}); err != nil {
				return err
			}
		case <-tick.C:
			if st, err := c.Status(); err != nil || st == libcontainer.Stopped {
				return nil
			}
			if err := emitStats(); err != nil {
				return err
			}
		}
	}
}
