package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	agentdruntime "github.com/agentd/agentd/runtime"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "run a new process in a running container",
	ArgsUsage: "ID COMMAND [ARG...]",
	Description: `The process starts from the container's config.json process and the flags
change it; --process FILE gives the whole process JSON instead. In the
foreground agentd forwards signals and exits with the process's code; with
--detach it returns once the process has started.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "process.json to run (instead of COMMAND and the flags below)"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the process has started"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid to this file (atomically)"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master (with --tty)"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the process a pty"},
		&cli.StringFlag{Name: "cwd", Usage: "working directory inside the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set KEY=VALUE in the environment (repeatable)"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as UID[:GID]"},
		&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "extra group ids"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability (repeatable)"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs for the process"},
		&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile"},
		&cli.StringFlag{Name: "process-label", Usage: "SELinux label"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many extra file descriptors (from fd 3) to the process"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, -1); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		// Caught signals are never released: agentd exits once the
		// process has (see CatchSignals).
		var sigs *agentdruntime.Signals
		if !c.Bool("detach") {
			sigs = agentdruntime.CatchSignals()
		}
		id := c.Args().First()
		proc, err := execProcess(c, rt, id)
		if err != nil {
			return err
		}
		p, err := rt.Exec(c.Context, id, agentdruntime.ExecOptions{
			Process:       proc,
			Detach:        c.Bool("detach"),
			PidFile:       c.String("pid-file"),
			ConsoleSocket: c.String("console-socket"),
			PreserveFDs:   c.Int("preserve-fds"),
			Signals:       sigs,
		})
		if err != nil || c.Bool("detach") {
			return err
		}
		code, err := p.WaitForeground(sigs)
		if err != nil {
			return err
		}
		if code != 0 {
			return &exitError{code: code}
		}
		return nil
	},
}

// execProcess builds the process to run from --process, or from the
// container's own process changed by the flags.
func execProcess(c *cli.Context, rt *agentdruntime.Runtime, id string) (*specs.Process, error) {
	if path := c.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading --process: %w", err)
		}
		return agentdruntime.ParseProcess(data)
	}
	if c.NArg() < 2 {
		return nil, fmt.Errorf("exec: name a COMMAND to run, or pass --process FILE; usage: agentd exec ID COMMAND [ARG...]")
	}
	p, err := rt.ProcessFromBundle(id)
	if err != nil {
		return nil, err
	}
	p.Args = c.Args().Slice()[1:]
	p.Terminal = c.Bool("tty")
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	p.Env = append(p.Env, c.StringSlice("env")...)
	if u := c.String("user"); u != "" {
		uid, gid, err := parseUser(u)
		if err != nil {
			return nil, err
		}
		p.User.UID, p.User.GID = uid, gid
	}
	for _, g := range c.Int64Slice("additional-gids") {
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		if p.Capabilities == nil { // a process.json without capabilities
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		pc := p.Capabilities
		pc.Bounding = append(pc.Bounding, caps...)
		pc.Effective = append(pc.Effective, caps...)
		pc.Permitted = append(pc.Permitted, caps...)
	}
	if c.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if v := c.String("apparmor"); v != "" {
		p.ApparmorProfile = v
	}
	if v := c.String("process-label"); v != "" {
		p.SelinuxLabel = v
	}
	return p, nil
}

// parseUser parses UID[:GID]; only numeric ids are accepted, since names
// would have to be looked up in the container's /etc/passwd.
func parseUser(s string) (uint32, uint32, error) {
	uidStr, gidStr, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(uidStr, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: use a numeric UID[:GID]", s)
	}
	gid := uint64(0)
	if hasGid {
		if gid, err = strconv.ParseUint(gidStr, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("--user %q: use a numeric UID[:GID]", s)
		}
	}
	return uint32(uid), uint32(gid), nil
}
