package runtime

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// ParseResources decodes the LinuxResources JSON that `update --resources`
// reads (containerd's shim sends it on stdin).
func ParseResources(data []byte) (*specs.LinuxResources, error) {
	var r specs.LinuxResources
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: resources: %s", ErrInvalidArgument, describeJSONError(data, err))
	}
	return &r, nil
}

// Update changes the resource limits of a created, running or paused
// container. Fields left nil keep their current values.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if st, err := c.Status(); err == nil && st == libcontainer.Stopped {
		return fmt.Errorf("%w: cannot update container %s: it is stopped", ErrInvalidState, id)
	}
	config := c.Config()
	if config.Cgroups == nil || config.Cgroups.Resources == nil {
		return fmt.Errorf("%w: container %s has no cgroup to update", ErrUnsupported, id)
	}
	applyResources(config.Cgroups.Resources, res)
	// Device rules cannot be updated; leave those others (a GPU plugin)
	// added alone, as runc does.
	config.Cgroups.SkipDevices = true
	if err := c.Set(config); err != nil {
		return fmt.Errorf("updating container %s: %w", id, err)
	}
	return nil
}

// applyResources copies every set field of res onto dst.
func applyResources(dst *cgroups.Resources, res *specs.LinuxResources) {
	if m := res.Memory; m != nil {
		setInt(&dst.Memory, m.Limit)
		setInt(&dst.MemoryReservation, m.Reservation)
		setInt(&dst.MemorySwap, m.Swap)
		if m.Swappiness != nil {
			dst.MemorySwappiness = m.Swappiness
		}
	}
	if c := res.CPU; c != nil {
		if c.Shares != nil {
			// cgroup v2 has weights; its manager does not convert shares.
			dst.CpuShares = *c.Shares
			dst.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*c.Shares)
		}
		setInt(&dst.CpuQuota, c.Quota)
		if c.Period != nil {
			dst.CpuPeriod = *c.Period
		}
		if c.Burst != nil {
			dst.CpuBurst = c.Burst
		}
		if c.Cpus != "" {
			dst.CpusetCpus = c.Cpus
		}
		if c.Mems != "" {
			dst.CpusetMems = c.Mems
		}
	}
	if p := res.Pids; p != nil && p.Limit != nil {
		limit := *p.Limit
		dst.PidsLimit = &limit
	}
	if b := res.BlockIO; b != nil && b.Weight != nil {
		dst.BlkioWeight = *b.Weight
	}
}

func setInt(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}
