//go:build linux

package native

import (
	"errors"
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// llConfigs holds go-landlock's preset for each ABI, index ABI-1. Each
// restricts everything its ABI can.
var llConfigs = []landlock.Config{
	landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5, landlock.V6,
	landlock.V7, landlock.V8, landlock.V9, landlock.V10, landlock.V11,
}

// landlockLibABI is the newest ABI the linked go-landlock knows.
var landlockLibABI = len(llConfigs)

// Access sets, in terms of Landlock rights. A right the enforced ABI does
// not handle is dropped from a rule; rights that only make sense on
// directories are dropped on files.
const (
	accessRead     = ll.AccessFSReadFile | ll.AccessFSReadDir
	accessReadExec = accessRead | ll.AccessFSExecute
	accessWrite    = ll.AccessFSWriteFile | ll.AccessFSRemoveDir | ll.AccessFSRemoveFile |
		ll.AccessFSMakeChar | ll.AccessFSMakeDir | ll.AccessFSMakeReg | ll.AccessFSMakeSock |
		ll.AccessFSMakeFifo | ll.AccessFSMakeBlock | ll.AccessFSMakeSym | ll.AccessFSTruncate |
		ll.AccessFSRefer
	accessDevice = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSTruncate
	accessFile   = ll.AccessFSExecute | ll.AccessFSReadFile | ll.AccessFSWriteFile |
		ll.AccessFSTruncate | ll.AccessFSIoctlDev
)

// landlockConfig picks the newest ABI both the kernel and go-landlock know,
// and refuses it when it is older than lp.MinABI. ABI 0 means no Landlock
// at all (possible only when lp.MinABI is 0).
func landlockConfig(lp landlockPolicy) (int, landlock.Config, error) {
	kernel := landlockABI()
	abi := min(kernel, landlockLibABI)
	if abi < lp.MinABI {
		return 0, landlock.Config{}, fmt.Errorf("%w: Landlock ABI %d is needed, this kernel has %d", ErrUnsupported, lp.MinABI, kernel)
	}
	if abi == 0 {
		return 0, landlock.Config{}, nil
	}
	return abi, llConfigs[abi-1], nil
}

// applyLandlock restricts the calling process (the helper, every thread)
// to lp with the same ruleset the spawn child gets ([landlockRuleset]); the
// returned ABI is what was enforced (0: nothing).
func applyLandlock(lp landlockPolicy) (int, error) {
	// libpsx, which runs the restriction on every thread of this cgo
	// binary, lists /proc/<pid>/task after the first thread is confined,
	// and kills the process when it cannot (go-landlock's "bug 39").
	task := fsGroup{paths: []string{fmt.Sprintf("/proc/%d/task", os.Getpid())}, access: ll.AccessFSReadDir}
	abi, ruleset, err := landlockRuleset(lp, task)
	if err != nil || ruleset == nil {
		return 0, err
	}
	defer ruleset.Close()
	// Each thread needs no_new_privs for its own landlock_restrict_self.
	if err := ll.AllThreadsPrctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("setting no_new_privs: %w", err)
	}
	if err := ll.AllThreadsLandlockRestrictSelf(int(ruleset.Fd()), 0); err != nil {
		return 0, fmt.Errorf("enforcing Landlock ABI %d: %w", abi, err)
	}
	return abi, nil
}

// landlockRuleset makes the ruleset for lp without enforcing it: the spawn
// child enforces it on itself, the helper with [applyLandlock].
// extra are rules beyond lp's. It returns the ABI and the ruleset, nil when
// the ABI is 0. Rule paths are
// opened once, with O_PATH, and the rule is cut down to what that very file
// can have.
func landlockRuleset(lp landlockPolicy, extra ...fsGroup) (_ int, _ *os.File, retErr error) {
	abi, cfg, err := landlockConfig(lp)
	if err != nil || abi == 0 {
		return 0, nil, err
	}
	attr := ll.RulesetAttr{
		HandledAccessFS:  uint64(cfg.HandledAccessFS),
		HandledAccessNet: uint64(cfg.HandledAccessNet),
		Scoped:           uint64(cfg.Scoped),
	}
	fd, err := ll.LandlockCreateRuleset(&attr, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("creating a Landlock ABI %d ruleset: %w", abi, err)
	}
	ruleset := os.NewFile(uintptr(fd), "landlock-ruleset")
	defer func() {
		if retErr != nil {
			ruleset.Close()
		}
	}()
	for _, g := range append(fsGroups(lp), extra...) {
		for _, p := range g.paths {
			if err := addPathRule(fd, cfg, g.access, p, g.optional); err != nil {
				return 0, nil, err
			}
		}
	}
	for _, port := range netPorts(cfg, lp) {
		if err := ll.LandlockAddNetPortRule(fd, &port, 0); err != nil {
			return 0, nil, fmt.Errorf("landlock rule for port %d: %w", port.Port, err)
		}
	}
	return abi, ruleset, nil
}

func addPathRule(rulesetFD int, cfg landlock.Config, access landlock.AccessFSSet, path string, optional bool) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if optional && errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("landlock rule for %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("landlock rule for %s: %w", path, err)
	}
	if access = ruleAccess(cfg, access, st.Mode&unix.S_IFMT == unix.S_IFDIR); access == 0 {
		return nil
	}
	attr := ll.PathBeneathAttr{AllowedAccess: uint64(access), ParentFd: fd}
	if err := ll.LandlockAddPathBeneathRule(rulesetFD, &attr, 0); err != nil {
		return fmt.Errorf("landlock rule for %s: %w", path, err)
	}
	return nil
}

// fsGroup is a set of paths and the access they get; optional paths are
// skipped when missing.
type fsGroup struct {
	paths    []string
	access   landlock.AccessFSSet
	optional bool
}

func fsGroups(lp landlockPolicy) []fsGroup {
	return []fsGroup{
		{lp.SystemExec, accessReadExec, true},
		{lp.SystemRead, accessRead, true},
		{lp.Devices, accessDevice, true},
		{lp.TTYs, accessDevice | ll.AccessFSIoctlDev, true},
		{lp.Read, accessReadExec, false},
		{lp.Write, accessReadExec | accessWrite, false},
	}
}

// ruleAccess cuts access down to what cfg handles and, for a file, to the
// rights a file can have (the kernel refuses directory rights on files).
func ruleAccess(cfg landlock.Config, access landlock.AccessFSSet, isDir bool) landlock.AccessFSSet {
	if !isDir {
		access &= accessFile
	}
	return access & cfg.HandledAccessFS
}

// netPorts allows the listed ports, for the protocols cfg handles. With no
// ports every TCP (and, from ABI 10, UDP) bind and connect is denied.
func netPorts(cfg landlock.Config, lp landlockPolicy) []ll.NetPortAttr {
	var ports []ll.NetPortAttr
	if cfg.HandledAccessNet&ll.AccessNetConnectTCP != 0 {
		for _, p := range lp.ConnectTCP {
			ports = append(ports, ll.NetPortAttr{AllowedAccess: ll.AccessNetConnectTCP, Port: uint64(p)})
		}
	}
	if cfg.HandledAccessNet&ll.AccessNetConnectSendUDP != 0 && len(lp.ConnectUDP) > 0 {
		// A UDP socket is bound to an ephemeral port when it first
		// sends; port 0 allows exactly that.
		ports = append(ports, ll.NetPortAttr{AllowedAccess: ll.AccessNetBindUDP, Port: 0})
		for _, p := range lp.ConnectUDP {
			ports = append(ports, ll.NetPortAttr{AllowedAccess: ll.AccessNetConnectSendUDP, Port: uint64(p)})
		}
	}
	return ports
}
