package bundle

import (
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The default seccomp profile is an allow-list in the spirit of Docker's:
// every system call a shell, coreutils, Python or a compiler needs is
// allowed; everything else fails with EPERM. Left out on purpose (so denied):
// mounting and the new mount API, pivot_root, ptrace and the calls that read
// or steal from other processes (process_vm_*, pidfd_getfd, kcmp), kernel
// modules and kexec, bpf, perf_event_open, the kernel keyring, handle-based
// opens, io_uring, userfaultfd, reboot, swap, setting the clock, unshare,
// setns, and clone with any CLONE_NEW* flag. Names the host's libseccomp does
// not know are skipped by runc, so newer calls can be listed safely.
var allowedSyscalls = []string{
	// File descriptors and I/O.
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "open", "openat", "openat2", "creat", "close", "close_range",
	"lseek", "_llseek", "dup", "dup2", "dup3", "pipe", "pipe2", "fcntl", "fcntl64",
	"flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "truncate",
	"truncate64", "ftruncate", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64",
	"readahead", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range",
	"ioctl",
	// File metadata and names.
	"stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "newfstatat", "fstatat64",
	"statx", "statfs", "statfs64", "fstatfs", "fstatfs64", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "mkdir", "mkdirat",
	"rmdir", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
	"unlink", "unlinkat", "chdir", "fchdir", "getcwd", "chroot", "mknod", "mknodat",
	"chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "chown32", "fchown", "fchown32",
	"fchownat", "lchown", "lchown32", "utime", "utimes", "utimensat", "utimensat_time64",
	"futimesat", "umask", "getxattr", "lgetxattr", "fgetxattr", "getxattrat", "setxattr",
	"lsetxattr", "fsetxattr", "setxattrat", "listxattr", "llistxattr", "flistxattr",
	"listxattrat", "removexattr", "lremovexattr", "fremovexattr", "removexattrat",
	"file_getattr", "file_setattr",
	// Memory.
	"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall", "membarrier", "memfd_create",
	"remap_file_pages", "pkey_alloc", "pkey_free", "pkey_mprotect", "mseal",
	"map_shadow_stack", "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node",
	"mbind", "cachestat",
	// Processes, threads, identity and scheduling.
	"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
	"waitpid", "kill", "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid",
	"setpgid", "getpgrp", "getsid", "setsid", "getuid", "getuid32", "geteuid",
	"geteuid32", "getgid", "getgid32", "getegid", "getegid32", "setuid", "setuid32",
	"setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32", "setresuid",
	"setresuid32", "setresgid", "setresgid32", "getresuid", "getresuid32", "getresgid",
	"getresgid32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "getgroups",
	"getgroups32", "setgroups", "setgroups32", "capget", "capset", "prctl",
	"set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex",
	"futex_time64", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue",
	"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
	"sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_getattr", "sched_setattr", "getpriority", "setpriority", "nice", "ioprio_get",
	"ioprio_set", "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "times",
	"uname", "sysinfo", "getrandom", "getcpu", "pidfd_open", "pidfd_send_signal",
	"sethostname", "setdomainname", "seccomp", "landlock_create_ruleset",
	"landlock_add_rule", "landlock_restrict_self",
	// Signals.
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
	"rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	"sigaltstack", "sigreturn", "sigaction", "sigprocmask", "sigsuspend", "sigpending",
	"signalfd", "signalfd4", "pause", "alarm", "restart_syscall",
	// Time (reading it and sleeping; never setting it).
	"clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
	"clock_nanosleep", "clock_nanosleep_time64", "gettimeofday", "time", "nanosleep",
	"timer_create", "timer_delete", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timer_getoverrun", "timerfd_create", "timerfd_gettime",
	"timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "getitimer", "setitimer",
	// Waiting for events, asynchronous I/O.
	"select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "eventfd", "eventfd2", "inotify_init",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch", "io_setup", "io_destroy",
	"io_submit", "io_cancel", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
	// Sockets.
	"socket", "socketpair", "socketcall", "bind", "connect", "listen", "accept", "accept4",
	"getsockname", "getpeername", "sendto", "send", "recvfrom", "recv", "sendmsg",
	"recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64", "shutdown", "setsockopt",
	"getsockopt",
	// System V and POSIX IPC (the sandbox has its own IPC namespace).
	"ipc", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop",
	"semtimedop_time64", "semctl", "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open",
	"mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
	"mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
}

// archSyscalls are allowed only on the named GOARCH, where they exist.
var archSyscalls = map[string][]string{
	"amd64": {"arch_prctl", "get_thread_area", "set_thread_area"},
	"386":   {"arch_prctl", "get_thread_area", "set_thread_area"},
	"arm64": {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
		"breakpoint", "cacheflush", "set_tls"},
}

// seccompArches lists the architectures a filter covers for each GOARCH:
// the native one only. A syscall of another ABI the kernel runs (i386 by
// int 0x80, x32) does not match the filter's architecture and libseccomp's
// bad-architecture action kills the thread: the compat ABIs are a classic
// way around a filter written for the native one, sandboxes run 64-bit
// programs, and each extra architecture triples the filter that
// libcontainer compiles for every process it starts (12 ms per exec here).
var seccompArches = map[string][]specs.Arch{
	"amd64": {specs.ArchX86_64},
	"386":   {specs.ArchX86},
	"arm64": {specs.ArchAARCH64},
	"arm":   {specs.ArchARM},
}

// Linux's values, spelled out so that the package builds on every platform.
const (
	errnoEPERM  = 1
	errnoENOSYS = 38

	cloneNewNS     = 0x00020000
	cloneNewCgroup = 0x02000000
	cloneNewUTS    = 0x04000000
	cloneNewIPC    = 0x08000000
	cloneNewUser   = 0x10000000
	cloneNewPID    = 0x20000000
	cloneNewNet    = 0x40000000
)

// cloneNewFlags are all CLONE_NEW* flags clone(2) takes. CLONE_NEWTIME
// shares its bit with the exit signal in clone(2); it is only reachable
// through clone3 and unshare, both refused.
const cloneNewFlags = cloneNewNS | cloneNewCgroup | cloneNewUTS | cloneNewIPC |
	cloneNewUser | cloneNewPID | cloneNewNet

// personalities are the personality(2) arguments allowed: Linux, 32-bit
// Linux, UNAME26 (old build scripts) and the query 0xffffffff.
var personalities = []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// DefaultSeccomp returns a fresh copy of the default seccomp profile for the
// architecture this binary was built for.
func DefaultSeccomp() *specs.LinuxSeccomp {
	eperm, enosys := uint(errnoEPERM), uint(errnoENOSYS)
	names := slices.Concat(allowedSyscalls, archSyscalls[runtime.GOARCH])
	sc := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   slices.Clone(seccompArches[runtime.GOARCH]),
		Syscalls: []specs.LinuxSyscall{
			{Names: names, Action: specs.ActAllow},
			// clone is allowed when no CLONE_NEW* bit is set in its flags
			// (argument 0 on every architecture listed above).
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: cloneNewFlags, ValueTwo: 0, Op: specs.OpMaskedEqual},
			}},
			// clone3 passes its flags in memory, which seccomp cannot
			// inspect; ENOSYS makes glibc and Go fall back to clone.
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		},
	}
	for _, p := range personalities {
		sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{
			Names:  []string{"personality"},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 0, Value: p, Op: specs.OpEqualTo}},
		})
	}
	return sc
}
