package runtime

import (
	"fmt"
	"github.com/opencontainers/runc/libcontainer/utils"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/bundle"
)

// rlimits maps the OCI rlimit names to their resource numbers.
var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// newProcess converts an OCI process to libcontainer's form.
func newProcess(p *specs.Process) (*libcontainer.Process, error) {
	oneProcForInit()
	nnp := p.NoNewPrivileges
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		Label:           p.SelinuxLabel,
		NoNewPrivileges: &nnp,
		AppArmorProfile: p.ApparmorProfile,
		Scheduler:       p.Scheduler,
		IOPriority:      p.IOPriority,
		LogLevel:        strconv.Itoa(int(logrus.GetLevel())),
	}
	aff, err := configs.ConvertCPUAffinity(p.ExecCPUAffinity)
	if err != nil {
		return nil, fmt.Errorf("%w: field process.execCPUAffinity: %v", ErrInvalidBundle, err)
	}
	lp.CPUAffinity = aff
	if p.ConsoleSize != nil {
		lp.ConsoleWidth = uint16(p.ConsoleSize.Width)
		lp.ConsoleHeight = uint16(p.ConsoleSize.Height)
	}
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable,
			Permitted: c.Permitted, Ambient: c.Ambient,
		}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	for _, rl := range p.Rlimits {
		t, ok := rlimits[rl.Type]
		if !ok {
			return nil, fmt.Errorf("%w: field process.rlimits: unknown type %q", ErrInvalidBundle, rl.Type)
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: t, Hard: rl.Hard, Soft: rl.Soft})
	}
	return lp, nil
}

// Stdio is the standard input and outputs of a container process. Nil fields
// mean the calling process's own.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

func (s Stdio) apply(p *libcontainer.Process) {
	p.Stdin, p.Stdout, p.Stderr = s.Stdin, s.Stdout, s.Stderr
	if p.Stdin == nil {
		p.Stdin = os.Stdin
	}
	if p.Stdout == nil {
		p.Stdout = os.Stdout
	}
	if p.Stderr == nil {
		p.Stderr = os.Stderr
	}
}

// exitCode turns a finished process's state into a shell-style exit code:
// the code itself, or 128+N for death by signal N.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return utils.ExitStatus(unix.WaitStatus(ws))
	}
	return ps.ExitCode()
}

// writePidFile writes pid to path atomically, so readers never see a
// partial number.
func writePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	if err := bundle.WriteFileAtomic(path, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

var initProcsOnce sync.Once

// oneProcForInit makes the `agentd init` processes that libcontainer starts
// run their Go runtime with a single P. libcontainer hands this process's
// GOMAXPROCS to init, and init clears its environment before the container's
// process starts, so the setting goes no further. Init's work is sequential:
// a second P only adds threads and idle spinning, which cost 1.5 ms per
// container start or exec on the benchmark VM. A GOMAXPROCS the user set is
// kept.
func oneProcForInit() {
	initProcsOnce.Do(func() {
		if _, set := os.LookupEnv("GOMAXPROCS"); !set {
			_ = os.Setenv("GOMAXPROCS", "1")
		}
	})
}
