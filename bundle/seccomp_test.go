package bundle

import (
	"runtime"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// refusedSyscalls must never be allowed by the default profile.
var refusedSyscalls = []string{
	"mount", "umount", "umount2", "ptrace", "kexec_load", "kexec_file_load", "init_module",
	"finit_module", "delete_module", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
	"open_by_handle_at", "name_to_handle_at", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"userfaultfd", "reboot", "swapon", "swapoff", "pivot_root", "clock_settime", "clock_settime64",
	"settimeofday", "stime", "adjtimex", "clock_adjtime", "unshare", "setns", "clone3", "process_vm_readv",
	"process_vm_writev", "pidfd_getfd", "kcmp", "open_tree", "move_mount", "fsopen", "fsconfig",
	"fsmount", "fspick", "mount_setattr", "acct", "quotactl", "syslog", "iopl", "ioperm",
	"lookup_dcookie", "fanotify_init", "vhangup", "uselib", "_sysctl",
}

// neededSyscalls are a sample of what shells, coreutils, Python and gcc use.
var neededSyscalls = []string{
	"read", "write", "openat", "close", "execve", "wait4", "exit_group", "mmap", "mprotect", "brk",
	"futex", "rt_sigaction", "pipe2", "dup2", "fstat", "newfstatat", "statx", "getdents64", "ioctl",
	"fcntl", "socket", "connect", "getrandom", "clock_gettime", "prlimit64", "set_robust_list",
	"rseq", "vfork", "chdir", "rename", "unlinkat", "mkdir", "chmod", "chown", "getuid", "setuid",
	"epoll_wait", "poll", "madvise", "sched_getaffinity", "memfd_create", "copy_file_range", "uname",
}

func allowedNames(sc *specs.LinuxSeccomp) (unconditional, conditional []string) {
	for _, r := range sc.Syscalls {
		if r.Action != specs.ActAllow {
			continue
		}
		if len(r.Args) == 0 {
			unconditional = append(unconditional, r.Names...)
		} else {
			conditional = append(conditional, r.Names...)
		}
	}
	return unconditional, conditional
}

func TestDefaultSeccomp(t *testing.T) {
	sc := DefaultSeccomp()
	if sc.DefaultAction != specs.ActErrno || sc.DefaultErrnoRet == nil || *sc.DefaultErrnoRet != 1 {
		t.Errorf("default action %s errno %v, want SCMP_ACT_ERRNO with EPERM", sc.DefaultAction, sc.DefaultErrnoRet)
	}
	if runtime.GOARCH == "amd64" && !slices.Equal(sc.Architectures, []specs.Arch{specs.ArchX86_64}) {
		t.Errorf("architectures %v", sc.Architectures)
	}
	if runtime.GOARCH == "arm64" && !slices.Equal(sc.Architectures, []specs.Arch{specs.ArchAARCH64}) {
		t.Errorf("architectures %v", sc.Architectures)
	}
	unconditional, conditional := allowedNames(sc)
	for _, name := range refusedSyscalls {
		if slices.Contains(unconditional, name) || slices.Contains(conditional, name) {
			t.Errorf("%s is allowed", name)
		}
	}
	for _, name := range neededSyscalls {
		if !slices.Contains(unconditional, name) {
			t.Errorf("%s is not allowed", name)
		}
	}
	seen := map[string]bool{}
	for _, name := range unconditional {
		if seen[name] {
			t.Errorf("%s listed twice", name)
		}
		seen[name] = true
	}
}

func TestDefaultSeccompClone(t *testing.T) {
	sc := DefaultSeccomp()
	var clone, clone3 []specs.LinuxSyscall
	for _, r := range sc.Syscalls {
		if slices.Contains(r.Names, "clone") {
			clone = append(clone, r)
		}
		if slices.Contains(r.Names, "clone3") {
			clone3 = append(clone3, r)
		}
	}
	// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
	const mask = 0x7E020000
	want := specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: mask, ValueTwo: 0, Op: specs.OpMaskedEqual}}}
	if len(clone) != 1 || !slicesEqualSyscall(clone[0], want) {
		t.Errorf("clone rules %+v, want only %+v", clone, want)
	}
	if len(clone3) != 1 || clone3[0].Action != specs.ActErrno || clone3[0].ErrnoRet == nil || *clone3[0].ErrnoRet != 38 {
		t.Errorf("clone3 rules %+v, want ENOSYS", clone3)
	}
}

func slicesEqualSyscall(a, b specs.LinuxSyscall) bool {
	return slices.Equal(a.Names, b.Names) && a.Action == b.Action && slices.Equal(a.Args, b.Args)
}
