//go:build linux && seccomp

package native

import (
	"fmt"
	"io"
	"os"
	"sync"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// seccompLibrary is true: this build links libseccomp.
const seccompLibrary = true

// deniedSyscalls fail with EPERM in every sandbox: debugging and reading
// other processes, mounting (old and new API), loading kernel code, keyrings,
// io_uring (it bypasses seccomp for the operations it queues), userfaultfd,
// namespaces, and rebooting or swapping. Names this architecture lacks are
// skipped.
var deniedSyscalls = []string{
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
	"mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
	"open_tree", "move_mount", "mount_setattr", "open_by_handle_at",
	"bpf", "perf_event_open", "kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module",
	"keyctl", "add_key", "request_key",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"userfaultfd", "unshare", "setns",
	"reboot", "swapon", "swapoff",
}

// cloneNamespaceFlags are the CLONE_NEW* flags clone(2) accepts. CLONE_NEWTIME
// is left out: on clone(2) its bit is part of the exit signal, and it only
// works with clone3 and unshare, which are both refused.
var cloneNamespaceFlags = []uint64{
	unix.CLONE_NEWNS, unix.CLONE_NEWCGROUP, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC,
	unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET,
}

// ipprotoMPTCP is IPPROTO_MPTCP: Landlock's TCP rules do not cover
// multipath TCP, so it is refused.
const ipprotoMPTCP = 262

// int32Mask compares only the low 32 bits of an int argument: the kernel
// ignores the upper half, so a filter comparing all 64 bits could be
// dodged by setting them.
const int32Mask = 0xffffffff

// loadSeccomp installs the deny filter on every thread of the calling
// process (the helper). It allows by default and refuses the calls above.
func loadSeccomp(sp seccompPolicy) error {
	filter, err := newSeccompFilter(sp)
	if err != nil {
		return err
	}
	defer filter.Release()
	if err := filter.Load(); err != nil {
		return fmt.Errorf("seccomp: loading the filter: %w", err)
	}
	return nil
}

// seccompPrograms caches the exported filter of each seccompPolicy (by
// DenyInet): libseccomp builds the same program for every command.
var seccompPrograms [2]struct {
	once sync.Once
	bpf  []byte
	err  error
}

// seccompProgram returns the deny filter for sp as a BPF program (struct
// sock_filter entries), for the spawn child to load on itself with
// seccomp(2). It is built once per process and policy.
func seccompProgram(sp seccompPolicy) ([]byte, error) {
	p := &seccompPrograms[0]
	if sp.DenyInet {
		p = &seccompPrograms[1]
	}
	p.once.Do(func() { p.bpf, p.err = exportSeccomp(sp) })
	return p.bpf, p.err
}

func exportSeccomp(sp seccompPolicy) ([]byte, error) {
	filter, err := newSeccompFilter(sp)
	if err != nil {
		return nil, err
	}
	defer filter.Release()
	fd, err := unix.MemfdCreate("agentd-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	f := os.NewFile(uintptr(fd), "seccomp-bpf")
	defer f.Close()
	if err := filter.ExportBPF(f); err != nil {
		return nil, fmt.Errorf("seccomp: exporting the filter: %w", err)
	}
	bpf, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("seccomp: exporting the filter: %w", err)
	}
	if len(bpf) == 0 || len(bpf)%8 != 0 || len(bpf)/8 > 4096 {
		return nil, fmt.Errorf("seccomp: exported filter of %d bytes is not a BPF program", len(bpf))
	}
	return bpf, nil
}

// newSeccompFilter builds the filter for sp without loading it.
func newSeccompFilter(sp seccompPolicy) (_ *seccomp.ScmpFilter, retErr error) {
	eperm := seccomp.ActErrno.SetReturnCode(int16(unix.EPERM))
	filter, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	defer func() {
		if retErr != nil {
			filter.Release()
		}
	}()
	if err := addSeccompRules(filter, sp, eperm); err != nil {
		return nil, err
	}
	return filter, nil
}

func addSeccompRules(filter *seccomp.ScmpFilter, sp seccompPolicy, eperm seccomp.ScmpAction) error {
	// Syscalls of another ABI (i386 via int 0x80, x32) would bypass
	// the rules, which are written for the native one: refuse them all.
	if err := filter.SetBadArchAction(seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	if err := filter.SetNoNewPrivsBit(true); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	for _, name := range deniedSyscalls {
		if err := denyAlways(filter, name, eperm); err != nil {
			return err
		}
	}
	// clone3 passes its flags in memory, out of a filter's reach: ENOSYS
	// makes libc fall back to clone, whose flags are checked below.
	if err := denyAlways(filter, "clone3", seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))); err != nil {
		return err
	}
	for _, flag := range cloneNamespaceFlags {
		if err := denyIf(filter, "clone", eperm, cond(0, seccomp.CompareMaskedEqual, flag, flag)); err != nil {
			return err
		}
	}
	// TIOCSTI and TIOCLINUX push input into a terminal the command shares.
	for _, req := range []uint64{unix.TIOCSTI, unix.TIOCLINUX} {
		if err := denyIf(filter, "ioctl", eperm, cond(1, seccomp.CompareMaskedEqual, int32Mask, req)); err != nil {
			return err
		}
	}
	// Landlock filters TCP by port; MPTCP and SCTP sockets are not TCP
	// to it. An IPv4 or IPv6 SOCK_SEQPACKET socket is SCTP whatever the
	// protocol (0 picks it when the sctp module is loaded).
	for _, proto := range []uint64{ipprotoMPTCP, unix.IPPROTO_SCTP} {
		if err := denyIf(filter, "socket", eperm, cond(2, seccomp.CompareMaskedEqual, int32Mask, proto)); err != nil {
			return err
		}
	}
	for _, family := range []uint64{unix.AF_INET, unix.AF_INET6} {
		if err := denyIf(filter, "socket", eperm, cond(0, seccomp.CompareEqual, family),
			cond(1, seccomp.CompareMaskedEqual, 0xf, unix.SOCK_SEQPACKET)); err != nil {
			return err
		}
	}
	if sp.DenyInet {
		return denyIf(filter, "socket", eperm, cond(0, seccomp.CompareNotEqual, unix.AF_UNIX))
	}
	// Network host: the families Landlock's port rules and the network's
	// own rules govern (and netlink, which libc's resolver asks for
	// addresses); not vsock, SMC, packet, bluetooth and the rest. A family
	// with garbage in the upper bits is above AF_NETLINK too.
	if err := denyIf(filter, "socket", eperm, cond(0, seccomp.CompareGreater, unix.AF_NETLINK)); err != nil {
		return err
	}
	for family := uint64(0); family < unix.AF_NETLINK; family++ {
		if family == unix.AF_UNIX || family == unix.AF_INET || family == unix.AF_INET6 {
			continue
		}
		if err := denyIf(filter, "socket", eperm, cond(0, seccomp.CompareEqual, family)); err != nil {
			return err
		}
	}
	return nil
}

func denyAlways(f *seccomp.ScmpFilter, name string, action seccomp.ScmpAction) error {
	call, err := seccomp.GetSyscallFromName(name)
	if err != nil {
		return nil // not a syscall on this architecture
	}
	if err := f.AddRule(call, action); err != nil {
		return fmt.Errorf("seccomp: rule for %s: %w", name, err)
	}
	return nil
}

// denyIf refuses name when all of the conditions hold.
func denyIf(f *seccomp.ScmpFilter, name string, action seccomp.ScmpAction, c ...seccomp.ScmpCondition) error {
	call, err := seccomp.GetSyscallFromName(name)
	if err != nil {
		return nil
	}
	if err := f.AddRuleConditional(call, action, c); err != nil {
		return fmt.Errorf("seccomp: rule for %s: %w", name, err)
	}
	return nil
}

// cond builds a condition from constants known to be valid.
func cond(arg uint, op seccomp.ScmpCompareOp, values ...uint64) seccomp.ScmpCondition {
	c, err := seccomp.MakeCondition(arg, op, values...)
	if err != nil {
		panic(fmt.Sprintf("seccomp condition: %v", err))
	}
	return c
}
