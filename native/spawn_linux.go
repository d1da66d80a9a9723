//go:build linux && cgo

package native

/*
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
// 32-bit ABIs keep 16-bit ids in the plain calls.
#ifdef SYS_setresuid32
#define SYS_SETRESUID SYS_setresuid32
#define SYS_SETRESGID SYS_setresgid32
#define SYS_SETGROUPS SYS_setgroups32
#else
#define SYS_SETRESUID SYS_setresuid
#define SYS_SETRESGID SYS_setresgid
#define SYS_SETGROUPS SYS_setgroups
#endif

// Where the child failed: the stage constants of start_linux.go.
enum {
	ST_OK, ST_CGROUP, ST_SETSID, ST_STDIO, ST_CTTY, ST_FDS, ST_RLIMIT,
	ST_CREDS, ST_CHDIR, ST_NNP, ST_LANDLOCK, ST_SECCOMP, ST_SIGNALS, ST_EXEC,
};

struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

struct agentd_spawn {
	// In: prepared by the parent, only read by the child.
	char **paths;          // candidates for the command, tried in order
	int npaths;
	char **argv, **envp;
	int *cgroup_fds;       // cgroup.procs files to write "0" to
	int ncgroup;
	int stdio[3];
	int ctty;              // make fd 0 the controlling terminal
	int workdir_fd;
	uint32_t uid, gid;
	uint64_t nofile;
	int landlock_fd;       // -1: no Landlock
	struct sock_fprog *filter; // NULL: no seccomp filter
	int filter_optional;   // bestEffort: go on when the kernel refuses it
	int clone_flags;       // CLONE_NEWNET or 0
	// Out: written by the child before it execs or exits.
	int stage, err, filter_err;
};

#define FAIL(st) do { s->stage = (st); s->err = errno; goto fail; } while (0)

// agentd_child runs in the vfork child, on its own stack but in the
// parent's memory: it makes raw system calls only (no malloc, no locks, and
// no libc set*id wrappers, which would signal the parent's threads), and
// reports through s. Every signal is blocked until the handlers are reset.
static int agentd_child(void *arg) {
	struct agentd_spawn *s = arg;
	int i, tmp[3];
	for (i = 0; i < s->ncgroup; i++)
		if (write(s->cgroup_fds[i], "0", 1) != 1) FAIL(ST_CGROUP);
	if (setsid() < 0) FAIL(ST_SETSID);
	// Above the stdio numbers first, so that no dup2 clobbers a source.
	for (i = 0; i < 3; i++)
		if ((tmp[i] = fcntl(s->stdio[i], F_DUPFD_CLOEXEC, 3)) < 0) FAIL(ST_STDIO);
	for (i = 0; i < 3; i++)
		if (dup2(tmp[i], i) < 0) FAIL(ST_STDIO);
	if (s->ctty && ioctl(0, TIOCSCTTY, 1) < 0) FAIL(ST_CTTY);
	// Nothing but 0-2 may reach the command, whatever the caller leaked.
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		struct rlimit cur;
		if (getrlimit(RLIMIT_NOFILE, &cur) < 0) FAIL(ST_FDS);
		for (i = 3; (rlim_t)i < cur.rlim_cur; i++)
			fcntl(i, F_SETFD, FD_CLOEXEC);
	}
	struct rlimit core = {0, 0}, nofile = {s->nofile, s->nofile};
	if (setrlimit(RLIMIT_CORE, &core) < 0) FAIL(ST_RLIMIT);
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0) FAIL(ST_RLIMIT);
	if (syscall(SYS_SETGROUPS, 0, NULL) < 0) FAIL(ST_CREDS);
	if (syscall(SYS_SETRESGID, s->gid, s->gid, s->gid) < 0) FAIL(ST_CREDS);
	if (syscall(SYS_SETRESUID, s->uid, s->uid, s->uid) < 0) FAIL(ST_CREDS);
	if (fchdir(s->workdir_fd) < 0) FAIL(ST_CHDIR);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) FAIL(ST_NNP);
	if (s->landlock_fd >= 0 && syscall(SYS_landlock_restrict_self, s->landlock_fd, 0) < 0) FAIL(ST_LANDLOCK);
	if (s->filter && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, s->filter) < 0) {
		if (!s->filter_optional) FAIL(ST_SECCOMP);
		s->filter_err = errno;
	}
	// The parent's handlers must not run here: back to the defaults.
	for (i = 1; i < 65; i++) {
		struct kernel_sigaction old, dfl = {SIG_DFL, 0, NULL, 0};
		if (i == SIGKILL || i == SIGSTOP) continue;
		if (syscall(SYS_rt_sigaction, i, NULL, &old, 8) < 0) continue;
		if (old.handler != SIG_DFL && old.handler != SIG_IGN &&
		    syscall(SYS_rt_sigaction, i, &dfl, NULL, 8) < 0) FAIL(ST_SIGNALS);
	}
	uint64_t none = 0;
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8) < 0) FAIL(ST_SIGNALS);
	// Like execvp: go on past missing candidates and refused ones, and
	// report a refusal over "not found".
	s->err = ENOENT;
	for (i = 0; i < s->npaths; i++) {
		execve(s->paths[i], s->argv, s->envp);
		if (errno == ENOENT || errno == ENOTDIR) continue;
		s->err = errno;
		if (errno != EACCES) break;
	}
	s->stage = ST_EXEC;
fail:
	_exit(s->stage == ST_EXEC ? (s->err == ENOENT ? 127 : 126) : 125);
}

// agentd_spawn starts the child and returns its pid, or -errno when it
// could not be created. With CLONE_VFORK it returns only once the child has
// executed the command or exited; s->stage then says which.
static int agentd_spawn(struct agentd_spawn *s) {
	const size_t size = 64 << 10, guard = 4096;
	uint64_t all = ~(uint64_t)0, old;
	int pid, err;
	// The child's stack, with a guard page below: the memory around it is
	// this process's.
	void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) return -errno;
	if (mprotect(stack, guard, PROT_NONE) < 0) {
		err = errno;
		munmap(stack, size);
		return -err;
	}
	s->stage = ST_OK;
	s->err = s->filter_err = 0;
	// Raw, so that libc's internal signals are blocked too: the child
	// starts with every signal blocked and no handler of this process
	// can run in it.
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
	pid = clone(agentd_child, (char *)stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD | s->clone_flags, s);
	err = errno;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
	munmap(stack, size);
	return pid < 0 ? -err : pid;
}
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// spawnAvailable is true: this build starts commands with [spawn], without
// the native-exec helper.
const spawnAvailable = true

// The stages of the C child are those of start_linux.go: this does not
// compile when one differs.
const _ = -uint((stageCgroup ^ C.ST_CGROUP) | (stageSetsid ^ C.ST_SETSID) | (stageStdio ^ C.ST_STDIO) |
	(stageCtty ^ C.ST_CTTY) | (stageFDs ^ C.ST_FDS) | (stageRlimit ^ C.ST_RLIMIT) | (stageCreds ^ C.ST_CREDS) |
	(stageChdir ^ C.ST_CHDIR) | (stageNNP ^ C.ST_NNP) | (stageLandlock ^ C.ST_LANDLOCK) |
	(stageSeccomp ^ C.ST_SECCOMP) | (stageSignals ^ C.ST_SIGNALS) | (stageExec ^ C.ST_EXEC) | (stageOK ^ C.ST_OK))

// spawn starts the command in a vfork child (clone with CLONE_VM and
// CLONE_VFORK, like posix_spawn) that joins the cgroups, drops to the
// sandbox user, enters the workdir, sets no_new_privs, enforces Landlock and
// loads the seccomp filter, all on itself, and then executes the command.
// The calling process and its threads are never restricted, and no second
// Go program starts. It returns once the command is executing, with its pid;
// when the child failed it has been reaped and failure says why.
func spawn(a *spawnAttr) (pid int, filterErr error, failure *spawnFailure, err error) {
	// Everything the child reads is in C memory: cgo does not let C keep
	// Go pointers in memory, and the child must touch nothing the Go
	// runtime manages.
	var allocs []unsafe.Pointer
	defer func() {
		for _, p := range allocs {
			C.free(p)
		}
	}()
	alloc := func(n int) unsafe.Pointer {
		p := C.malloc(C.size_t(max(n, 1))) // never nil: cgo's malloc crashes instead
		allocs = append(allocs, p)
		return p
	}
	s := (*C.struct_agentd_spawn)(alloc(C.sizeof_struct_agentd_spawn))
	*s = C.struct_agentd_spawn{}
	cstrings := func(list []string) **C.char {
		arr := unsafe.Slice((**C.char)(alloc((len(list)+1)*int(unsafe.Sizeof((*C.char)(nil))))), len(list)+1)
		for i, v := range list {
			arr[i] = C.CString(v)
			allocs = append(allocs, unsafe.Pointer(arr[i]))
		}
		arr[len(list)] = nil
		return &arr[0]
	}
	s.paths, s.npaths = cstrings(a.paths), C.int(len(a.paths))
	s.argv, s.envp = cstrings(a.args), cstrings(a.env)
	fds := unsafe.Slice((*C.int)(alloc(max(len(a.cgroupFDs), 1)*int(unsafe.Sizeof(C.int(0))))), max(len(a.cgroupFDs), 1))
	for i, fd := range a.cgroupFDs {
		fds[i] = C.int(fd)
	}
	s.cgroup_fds, s.ncgroup = &fds[0], C.int(len(a.cgroupFDs))
	for i, fd := range a.stdio {
		s.stdio[i] = C.int(fd)
	}
	s.ctty = cBool(a.ctty)
	s.workdir_fd = C.int(a.workdirFD)
	s.uid, s.gid, s.nofile = C.uint32_t(a.uid), C.uint32_t(a.gid), C.uint64_t(a.nofile)
	s.landlock_fd = C.int(a.landlockFD)
	if len(a.filter) > 0 {
		prog := (*C.struct_sock_fprog)(alloc(int(C.sizeof_struct_sock_fprog)))
		insns := alloc(len(a.filter))
		copy(unsafe.Slice((*byte)(insns), len(a.filter)), a.filter)
		prog.len = C.ushort(len(a.filter) / int(C.sizeof_struct_sock_filter))
		prog.filter = (*C.struct_sock_filter)(insns)
		s.filter = prog
	}
	s.filter_optional = cBool(a.filterOptional)
	if a.newNet {
		s.clone_flags = C.CLONE_NEWNET
	}
	r := int(C.agentd_spawn(s))
	if r < 0 {
		return 0, nil, nil, syscall.Errno(-r)
	}
	if s.filter_err != 0 {
		filterErr = syscall.Errno(s.filter_err)
	}
	if s.stage != C.ST_OK {
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(r, &ws, 0, nil); err != syscall.EINTR {
				break
			}
		}
		return 0, filterErr, &spawnFailure{stage: int(s.stage), errno: syscall.Errno(s.err)}, nil
	}
	return r, filterErr, nil, nil
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
