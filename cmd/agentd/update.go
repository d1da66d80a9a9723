package main

import (
	"fmt"
	"io"
	"os"

	units "github.com/docker/go-units"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	agentdruntime "github.com/agentd/agentd/runtime"
)

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "change a container's resource limits",
	ArgsUsage: "ID",
	Description: `--resources FILE (or - for stdin) gives a LinuxResources JSON object, as
containerd's shim sends; the other flags set single limits on top of it.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "LinuxResources JSON file, or - for stdin"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit (e.g. 512m)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit (-1 for unlimited)"},
		&cli.Int64Flag{Name: "cpu-quota", Usage: "CPU time (µs) per period"},
		&cli.Uint64Flag{Name: "cpu-period", Usage: "CPU period (µs)"},
		&cli.Uint64Flag{Name: "cpu-share", Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs allowed (e.g. 0-1)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes allowed"},
		&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of processes"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		res, err := updateResources(c)
		if err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		return rt.Update(c.Args().First(), res)
	},
}

func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	res := &specs.LinuxResources{}
	if path := c.String("resources"); path != "" {
		var data []byte
		var err error
		if path == "-" {
			data, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
		} else {
			data, err = os.ReadFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("reading --resources: %w", err)
		}
		if res, err = agentdruntime.ParseResources(data); err != nil {
			return nil, err
		}
	}
	mem := func(name string, dst **int64) error {
		v := c.String(name)
		if v == "" {
			return nil
		}
		n := int64(-1)
		if v != "-1" {
			var err error
			if n, err = units.RAMInBytes(v); err != nil {
				return fmt.Errorf("--%s %q: use a size such as 512m or 1g", name, v)
			}
		}
		*dst = &n
		return nil
	}
	if res.Memory == nil {
		res.Memory = &specs.LinuxMemory{}
	}
	for name, dst := range map[string]**int64{"memory": &res.Memory.Limit, "memory-reservation": &res.Memory.Reservation, "memory-swap": &res.Memory.Swap} {
		if err := mem(name, dst); err != nil {
			return nil, err
		}
	}
	cpu := func() *specs.LinuxCPU {
		if res.CPU == nil {
			res.CPU = &specs.LinuxCPU{}
		}
		return res.CPU
	}
	if c.IsSet("cpu-quota") {
		v := c.Int64("cpu-quota")
		cpu().Quota = &v
	}
	if c.IsSet("cpu-period") {
		v := c.Uint64("cpu-period")
		cpu().Period = &v
	}
	if c.IsSet("cpu-share") {
		v := c.Uint64("cpu-share")
		cpu().Shares = &v
	}
	if v := c.String("cpuset-cpus"); v != "" {
		cpu().Cpus = v
	}
	if v := c.String("cpuset-mems"); v != "" {
		cpu().Mems = v
	}
	if c.IsSet("pids-limit") {
		v := c.Int64("pids-limit")
		res.Pids = &specs.LinuxPids{Limit: &v}
	}
	return res, nil
}
