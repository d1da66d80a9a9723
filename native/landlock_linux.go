//go:build linux

package native

import (
	"errors"
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
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

// applyLandlock restricts the calling process (the helper) to lp, with the
// newest ABI both the kernel and go-landlock know. It refuses when that ABI
// is older than lp.MinABI. The rules are downgraded here, explicitly, rather
// than with go-landlock's BestEffort, which silently enforces nothing at all
// when a rule cannot be downgraded; the returned ABI is what was enforced (0:
// nothing, possible only when lp.MinABI is 0).
func applyLandlock(lp landlockPolicy) (int, error) {
	kernel := landlockABI()
	abi := min(kernel, landlockLibABI)
	if abi < lp.MinABI {
		return 0, fmt.Errorf("%w: Landlock ABI %d is needed, this kernel has %d", ErrUnsupported, lp.MinABI, kernel)
	}
	if abi == 0 {
		return 0, nil
	}
	cfg := llConfigs[abi-1]
	rules, err := landlockRules(cfg, lp)
	if err != nil {
		return 0, err
	}
	if err := cfg.Restrict(rules...); err != nil {
		return 0, fmt.Errorf("enforcing Landlock ABI %d: %w", abi, err)
	}
	return abi, nil
}

// landlockRules turns lp into go-landlock rules for cfg.
func landlockRules(cfg landlock.Config, lp landlockPolicy) ([]landlock.Rule, error) {
	var rules []landlock.Rule
	groups := []struct {
		paths    []string
		access   landlock.AccessFSSet
		optional bool
	}{
		{lp.SystemExec, accessReadExec, true},
		{lp.SystemRead, accessRead, true},
		{lp.Devices, accessDevice, true},
		{lp.TTYs, accessDevice | ll.AccessFSIoctlDev, true},
		{lp.Read, accessReadExec, false},
		{lp.Write, accessReadExec | accessWrite, false},
	}
	for _, g := range groups {
		for _, p := range g.paths {
			r, ok, err := fsRule(cfg, g.access, p, g.optional)
			if err != nil {
				return nil, err
			}
			if ok {
				rules = append(rules, r)
			}
		}
	}
	return append(rules, netRules(cfg, lp)...), nil
}

// fsRule is the rule granting access to path, cut down to what cfg handles
// and to what a file can have when path is not a directory. ok is false when
// nothing is left to grant or an optional path is missing.
func fsRule(cfg landlock.Config, access landlock.AccessFSSet, path string, optional bool) (r landlock.Rule, ok bool, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("landlock rule for %s: %w", path, err)
	}
	if access = ruleAccess(cfg, access, fi.IsDir()); access == 0 {
		return nil, false, nil
	}
	rule := landlock.PathAccess(access, path)
	if optional {
		rule = rule.IgnoreIfMissing()
	}
	return rule, true, nil
}

// ruleAccess cuts access down to what cfg handles and, for a file, to the
// rights a file can have (the kernel refuses directory rights on files).
func ruleAccess(cfg landlock.Config, access landlock.AccessFSSet, isDir bool) landlock.AccessFSSet {
	if !isDir {
		access &= accessFile
	}
	return access & cfg.HandledAccessFS
}

// netRules allows the listed ports, for the protocols cfg handles. With no
// ports every TCP (and, from ABI 10, UDP) bind and connect is denied.
func netRules(cfg landlock.Config, lp landlockPolicy) []landlock.Rule {
	var rules []landlock.Rule
	if cfg.HandledAccessNet&ll.AccessNetConnectTCP != 0 {
		for _, p := range lp.ConnectTCP {
			rules = append(rules, landlock.ConnectTCP(p))
		}
	}
	if cfg.HandledAccessNet&ll.AccessNetConnectSendUDP != 0 && len(lp.ConnectUDP) > 0 {
		// A UDP socket is bound to an ephemeral port when it first
		// sends; port 0 allows exactly that.
		rules = append(rules, landlock.BindUDP(0))
		for _, p := range lp.ConnectUDP {
			rules = append(rules, landlock.ConnectSendUDP(p))
		}
	}
	return rules
}
