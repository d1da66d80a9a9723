//go:build seccomp && linux && cgo

package bundle

import (
	"runtime"
	"slices"
	"testing"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// newerThanLibseccomp are allowed calls an older libseccomp (Debian 12 has
// 2.5.4) may not know; runc skips unknown names, so they are harmless there.
var newerThanLibseccomp = []string{
	"cachestat", "fchmodat2", "map_shadow_stack", "futex_wake", "futex_wait", "futex_requeue",
	"mseal", "getxattrat", "setxattrat", "listxattrat", "removexattrat", "file_getattr", "file_setattr",
	"set_mempolicy_home_node",
}

// TestSeccompNamesExist catches a misspelt system call name, which runc
// would skip silently: every name must exist on one of the filter's
// architectures.
func TestSeccompNamesExist(t *testing.T) {
	var arches []libseccomp.ScmpArch
	for _, a := range DefaultSeccomp().Architectures {
		arch, err := libseccomp.GetArchFromString(string(a)[len("SCMP_ARCH_"):])
		if err != nil {
			t.Fatalf("architecture %s: %v", a, err)
		}
		arches = append(arches, arch)
	}
	names := slices.Concat(allowedSyscalls, archSyscalls[runtime.GOARCH], []string{"clone", "clone3", "personality"})
	for _, name := range names {
		found := slices.ContainsFunc(arches, func(a libseccomp.ScmpArch) bool {
			_, err := libseccomp.GetSyscallFromNameByArch(name, a)
			return err == nil
		})
		switch {
		case found:
		case slices.Contains(newerThanLibseccomp, name):
			t.Logf("%s is unknown to this libseccomp", name)
		default:
			t.Errorf("%s is not a system call on %v", name, DefaultSeccomp().Architectures)
		}
	}
}
