package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/native"
	agentdruntime "github.com/agentd/agentd/runtime"
	"github.com/agentd/agentd/supervisor/api"
)

// outputGrace is how long an exec's output may trail its exit: a
// background child that keeps stdout open is cut off after it.
const outputGrace = 500 * time.Millisecond

// containerProc is an exec in a container sandbox.
type containerProc struct {
	s      *containerSandbox
	proc   *agentdruntime.Process
	execID string
	pipes  *stdioPipes
	tty    *ptyRelay // with a tty
}

func (p *containerProc) Pid() int { return p.proc.Pid() }

func (p *containerProc) Wait() (ExitStatus, error) {
	code, err := p.proc.Wait()
	p.proc.RemoveSubCgroup()
	p.pipes.drain(outputGrace)
	p.tty.close()
	if err != nil {
		return ExitStatus{}, err
	}
	return ExitStatus{Code: code}, nil
}

// Kill kills everything in the exec's cgroup, which holds whatever the exec
// started however it forked, setsid or cleared its environment; then, as a
// second net, every process of the sandbox that descends from the exec or
// carries its id in its environment.
func (p *containerProc) Kill() error {
	subErr := p.s.b.rt.KillSubCgroup(p.s.id, execCgroup(p.execID))
	root := p.Pid()
	return errors.Join(subErr, p.s.killMatching(func(pid int, tag string, tree map[int]bool) bool {
		return tag == p.execID || pid == root || tree[pid]
	}, root))
}

func (p *containerProc) Resize(rows, cols uint16) error { return p.tty.resize(rows, cols) }

// attachTTY sizes the pty and relays it to the exec's stdio.
func (p *containerProc) attachTTY(master *os.File, cfg *ExecConfig) {
	_ = resizePTY(master, cfg.Rows, cfg.Cols)
	p.tty = relayPTY(master, cfg)
}

// killTagged kills the processes of the sandbox for which match is true.
func (s *containerSandbox) killTagged(match func(pid int, tag string) bool) error {
	return s.killMatching(func(pid int, tag string, _ map[int]bool) bool { return match(pid, tag) }, 0)
}

// killMatching SIGKILLs the container's processes that match, until none
// is left (or it gives up after a few seconds). tree holds the descendants
// of root among them. In a paused container one round is all: the
// processes die when it is resumed or destroyed.
func (s *containerSandbox) killMatching(match func(pid int, tag string, tree map[int]bool) bool, root int) error {
	deadline := time.Now().Add(5 * time.Second)
	paused := s.b.rt.Paused(s.id)
	for {
		pids, err := s.b.rt.Ps(s.id)
		if errors.Is(err, agentdruntime.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing processes of %s: %w", s.id, err)
		}
		tree := descendants(root, pids)
		n := 0
		for _, pid := range pids {
			if match(pid, procEnv(pid, execIDEnv), tree) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				n++
			}
		}
		if n == 0 || paused {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes of sandbox %s survive SIGKILL", s.id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Probe measures what this host gives container sandboxes.
func (b *containerBackend) Probe(context.Context) (api.Capabilities, error) {
	c := api.Capabilities{Backend: b.Name()}
	root := os.Geteuid() == 0
	// overlayfs may be a module that the first mount loads.
	overlay := fileContains("/proc/filesystems", "\toverlay\n") || overlayModule()
	seccomp := native.Probe().SeccompKernel
	if f := agentdruntime.Features(); f != nil && f.Linux != nil && f.Linux.Seccomp != nil && f.Linux.Seccomp.Enabled != nil {
		seccomp = seccomp && *f.Linux.Seccomp.Enabled
	}
	var missingNS []string
	for _, ns := range []string{"mnt", "pid", "ipc", "uts", "net", "cgroup"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			missingNS = append(missingNS, ns)
		}
	}
	mode, ctrls := cgroupControllers()
	c.Features = []api.Feature{
		{Name: "root", Enforced: root, Detail: "creating containers needs root"},
		{Name: "overlayfs", Enforced: overlay, Detail: "copy-on-write root file system"},
		{Name: "namespaces", Enforced: len(missingNS) == 0, Detail: nsDetail(missingNS)},
		{Name: "seccomp", Enforced: seccomp, Detail: "default allow-list profile (native ABI only)"},
		{Name: "cgroups", Enforced: len(ctrls) > 0, Detail: mode + ": " + strings.Join(ctrls, ",")},
		{Name: "userns", Enforced: userNamespaces(), Detail: "user namespaces (not used by default)"},
	}
	c.Available = root && overlay && len(missingNS) == 0
	if !c.Available {
		c.Reason = "needs root, overlayfs and mnt/pid/ipc/uts/net/cgroup namespaces"
	}
	return c, nil
}

func nsDetail(missing []string) string {
	if len(missing) == 0 {
		return "mnt pid ipc uts net cgroup"
	}
	return "missing: " + strings.Join(missing, " ")
}

// cgroupControllers reports the cgroup mode and the controllers the
// backends use that this host mounts.
func cgroupControllers() (string, []string) {
	if data, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		var out []string
		for _, c := range strings.Fields(string(data)) {
			if c == "memory" || c == "cpu" || c == "pids" {
				out = append(out, c)
			}
		}
		return "v2", append(out, "freeze")
	}
	var out []string
	for _, c := range []string{"memory", "cpu", "cpuacct", "pids", "freezer"} {
		if _, err := os.Stat("/sys/fs/cgroup/" + c); err == nil {
			out = append(out, c)
		}
	}
	return "v1", out
}

func userNamespaces() bool {
	data, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	return err == nil && strings.TrimSpace(string(data)) != "0"
}

func fileContains(path, s string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(data), s)
}

// overlayModule reports whether the running kernel has overlayfs as a
// module, not loaded yet.
func overlayModule() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	m, _ := filepath.Glob(filepath.Join("/lib/modules", unix.ByteSliceToString(u.Release[:]), "kernel/fs/overlayfs/overlay.ko*"))
	return len(m) > 0
}
