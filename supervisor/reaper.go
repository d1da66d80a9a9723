package supervisor

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// reapGrace is how long a zombie child must stay unreaped before the reaper
// takes it. Children the daemon started itself (os/exec, libcontainer) are
// waited for by their owners at once; the grace keeps the reaper from
// stealing their exit status. Orphans reparented to the daemon, which is a
// child subreaper, have no owner and are reaped after the grace.
const reapGrace = time.Second

// startReaper makes the calling process a child subreaper, so orphans of
// sandbox processes become its children instead of init's, and reaps them
// until ctx ends.
func startReaper(ctx context.Context) error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	go func() {
		defer signal.Stop(sigs)
		tick := time.NewTicker(reapGrace / 2)
		defer tick.Stop()
		seen := make(map[int]time.Time)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sigs:
			case <-tick.C:
			}
			reapZombies(seen, time.Now())
		}
	}()
	return nil
}

// reapZombies reaps the zombie children of this process that have been
// zombies for reapGrace; seen remembers when each was first noticed.
func reapZombies(seen map[int]time.Time, now time.Time) {
	zombies := zombieChildren()
	for pid := range seen {
		if !zombies[pid] {
			delete(seen, pid)
		}
	}
	for pid := range zombies {
		first, ok := seen[pid]
		if !ok {
			seen[pid] = now
			continue
		}
		if now.Sub(first) < reapGrace {
			continue
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		delete(seen, pid)
	}
}

// zombieChildren lists the children of this process in state Z. The
// kernel keeps each thread's children in /proc/self/task/<tid>/children, so
// this reads only the daemon's own children, not all of /proc, at every
// SIGCHLD.
func zombieChildren() map[int]bool {
	out := make(map[int]bool)
	files, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(field)
			if err != nil {
				continue
			}
			if state, _, ok := procStat(pid); ok && state == 'Z' {
				out[pid] = true
			}
		}
	}
	return out
}

// procStat reads the state and parent pid from /proc/<pid>/stat. The
// command name may hold spaces and parentheses, so parsing starts after the
// last ')'.
func procStat(pid int) (state byte, ppid int, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}
