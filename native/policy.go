package native

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/agentd/agentd/bundle"
)

// System paths every command may use. Directories hold programs and
// libraries (read and execute); the /etc entries are what the loader, libc's
// name service and TLS need (read only, no execute). Paths missing on this
// host are skipped.
var (
	systemExecDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}
	systemReadOnly = []string{
		"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/host.conf",
		"/etc/hosts", "/etc/resolv.conf", "/etc/gai.conf", "/etc/localtime",
		"/etc/ssl/certs", "/etc/ca-certificates", "/etc/alternatives",
	}
	// systemDevices may be read and written, without ioctl.
	systemDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random"}
	// systemTTYs may also take device ioctls (window size, termios).
	systemTTYs = []string{"/dev/tty"}
	// hostConnectTCP are the TCP ports a command may connect to with
	// network "host": DNS, HTTP and HTTPS. Landlock filters by port only, so
	// this keeps the command away from the host's other local services
	// (databases, dev servers, debug ports) while package managers and git
	// over HTTPS still work. The Spec has no field for more ports yet.
	hostConnectTCP = []uint16{53, 80, 443}
	// hostConnectUDP is DNS; it applies from Landlock ABI 10 on, older
	// kernels do not filter UDP.
	hostConnectUDP = []uint16{53}
)

// policy is everything needed to confine and start one command: what the
// spawn child gets prepared, or what the helper gets as JSON over a pipe. It
// holds the command's complete environment and nothing of the caller's.
type policy struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
	// Root is the sandbox root; Workdir is resolved beneath it.
	Root    string `json:"root"`
	Workdir string `json:"workdir"`
	UID     uint32 `json:"uid"`
	GID     uint32 `json:"gid"`
	NoFile  uint64 `json:"nofile"`
	// BestEffort lets the command run with less than the policy asks when
	// the kernel lacks a feature; the report then says what was skipped.
	BestEffort bool           `json:"bestEffort,omitempty"`
	Landlock   landlockPolicy `json:"landlock"`
	Seccomp    seccompPolicy  `json:"seccomp"`
}

// landlockPolicy lists host paths by the access they get. Rights a kernel's
// ABI does not know are dropped; paths marked system are optional.
type landlockPolicy struct {
	MinABI     int      `json:"minAbi"`
	SystemExec []string `json:"systemExec"`
	SystemRead []string `json:"systemRead"`
	Devices    []string `json:"devices"`
	TTYs       []string `json:"ttys"`
	// Read may be read and executed; Write fully used, renames included.
	Read       []string `json:"read,omitempty"`
	Write      []string `json:"write"`
	ConnectTCP []uint16 `json:"connectTcp,omitempty"`
	ConnectUDP []uint16 `json:"connectUdp,omitempty"`
}

// seccompPolicy selects the deny filter's optional parts.
type seccompPolicy struct {
	// DenyInet refuses every socket family but AF_UNIX (network "none").
	DenyInet bool `json:"denyInet"`
}

// sandboxPaths are the host paths of one sandbox.
type sandboxPaths struct {
	Scratch string // HOME; TMPDIR is Scratch/tmp
}

// root is the directory workdirs are relative to: the first write path
// that is a directory, else the scratch dir.
func (st *settings) root(sp sandboxPaths) string {
	for _, p := range st.WritePaths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
	}
	return sp.Scratch
}

// buildPolicy makes the policy for running p in a sandbox with settings
// st.
func buildPolicy(st *settings, sp sandboxPaths, p Process) (*policy, error) {
	if len(p.Args) == 0 || p.Args[0] == "" {
		return nil, fmt.Errorf("%w: no command given", ErrInvalidSpec)
	}
	workdir := st.Workdir
	if p.Workdir != "" {
		if err := checkWorkdir(p.Workdir); err != nil {
			return nil, err
		}
		workdir = filepath.Clean(p.Workdir)
	}
	if workdir == "" {
		workdir = "."
	}
	uid, gid := st.UID, st.GID
	if p.User != nil {
		if err := checkUser(p.User.UID, p.User.GID); err != nil {
			return nil, err
		}
		uid, gid = p.User.UID, p.User.GID
	}
	env, err := buildEnv(st.Env, p.Env, sp.Scratch)
	if err != nil {
		return nil, err
	}
	pol := &policy{
		Args: slices.Clone(p.Args), Env: env,
		Root: st.root(sp), Workdir: workdir,
		UID: uid, GID: gid, NoFile: defaultNoFile,
		BestEffort: st.BestEffort,
		Landlock:   st.landlockPolicy(sp),
		Seccomp:    seccompPolicy{DenyInet: st.Network == bundle.NetworkNone},
	}
	return pol, nil
}

func (st *settings) landlockPolicy(sp sandboxPaths) landlockPolicy {
	lp := landlockPolicy{
		MinABI:     MinLandlockABI,
		SystemExec: systemExecDirs,
		SystemRead: systemReadOnly,
		Devices:    systemDevices,
		TTYs:       systemTTYs,
		Read:       st.ReadPaths,
		Write:      append(slices.Clone(st.WritePaths), sp.Scratch),
	}
	if st.BestEffort {
		lp.MinABI = 0
	}
	if st.Network == bundle.NetworkHost {
		lp.ConnectTCP = hostConnectTCP
		lp.ConnectUDP = hostConnectUDP
	}
	return lp
}
