//go:build linux

package native

import (
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

const (
	cgroup2Mount = "/sys/fs/cgroup"
)

// wantedControllers are the cgroup controllers the backend can use.
var wantedControllers = []string{"memory", "cpu", "cpuacct", "pids", "freezer"}

// Probe measures what this host enforces for the native backend: it asks
// the kernel, it does not assume.
func Probe() Capabilities {
	c, _ := probe()
	return c
}

// probe is [Probe], and the cgroup hierarchy it found.
func probe() (Capabilities, hierarchy) {
	c := Capabilities{
		Root:           os.Geteuid() == 0,
		LandlockABI:    landlockABI(),
		LandlockLibABI: landlockLibABI,
		SeccompKernel:  seccompKernel(),
		SeccompLibrary: seccompLibrary,
	}
	var h hierarchy
	c.CgroupMode, h, c.CgroupControllers = probeCgroups()
	c.CgroupVersion = h.version
	_, err := os.Stat("/proc/self/ns/net")
	c.NetNamespace = c.Root && err == nil
	return c, h
}

// landlockABI asks the kernel for its Landlock ABI version; 0 means no
// Landlock (not built, or not enabled at boot).
func landlockABI() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// seccompKernel reports whether the kernel can load seccomp filters that
// return an errno, the action agentd's filter uses.
func seccompKernel() bool {
	action := uint32(unix.SECCOMP_RET_ERRNO)
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&action)))
	return errno == 0
}

// probeCgroups returns the cgroup mode, the hierarchy the backend uses
// (hybrid hosts keep their controllers on v1) and its usable controllers.
func probeCgroups() (mode string, h hierarchy, controllers []string) {
	var fsType unix.Statfs_t
	switch {
	case unix.Statfs(cgroup2Mount, &fsType) != nil: // nothing mounted there
		return "unavailable", hierarchy{}, nil
	case cgroups.IsCgroup2UnifiedMode():
		mode, h.version = "unified", 2
	case cgroups.IsCgroup2HybridMode():
		mode, h.version = "hybrid", 1
	default:
		mode, h.version = "legacy", 1
	}
	if h.version == 1 {
		var err error
		if h.v1, err = v1Hierarchy(); err != nil {
			return mode, hierarchy{}, nil
		}
		for name := range h.v1 {
			controllers = append(controllers, name)
		}
	} else {
		data, err := os.ReadFile(filepath.Join(cgroup2Mount, "cgroup.controllers"))
		if err != nil {
			return mode, hierarchy{}, nil
		}
		for _, n := range strings.Fields(string(data)) {
			if slices.Contains(wantedControllers, n) {
				controllers = append(controllers, n)
			}
		}
		// v2 has no freezer controller: cgroup.freeze exists in every
		// non-root cgroup on kernels that can freeze (5.2+).
		if m, _ := filepath.Glob(filepath.Join(cgroup2Mount, "*", "cgroup.freeze")); len(m) > 0 {
			controllers = append(controllers, "freezer")
		}
		// v2's cpu controller also accounts CPU time.
		if slices.Contains(controllers, "cpu") {
			controllers = append(controllers, "cpuacct")
		}
	}
	slices.Sort(controllers)
	return mode, h, slices.Compact(controllers)
}
