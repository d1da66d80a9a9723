//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/native"
)

// callerChildEnv marks the re-executed test binary that plays the caller
// (a CLI or the daemon): it runs native.Run in-process and then checks
// itself. Its value is the base dir of the parent's nativeDirs.
const callerChildEnv = "AGENTD_IT_NATIVE_CALLER"

// TestNativeCallerUnrestricted checks that running commands leaves the
// calling process as free as it was: no thread gets no_new_privs, a seccomp
// filter, a Landlock domain, another network namespace or cgroup, and its
// rlimits and capabilities do not change. Restricting the caller is
// irreversible, so the caller is a re-executed child of the test.
func TestNativeCallerUnrestricted(t *testing.T) {
	if base := os.Getenv(callerChildEnv); base != "" {
		callerChild(t, base)
		return
	}
	nativeRequire(t)
	d := newNativeDirs(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestNativeCallerUnrestricted$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), callerChildEnv+"="+d.base)
	out, err := cmd.CombinedOutput()
	t.Logf("caller child:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNativeCallerUnrestricted") {
		t.Fatalf("caller child failed: %v", err)
	}
}

// callerState is what must not change in the caller.
type callerState struct {
	threads map[string]string // per thread: NoNewPrivs, Seccomp, CapEff, cgroups, netns
	rlimits [2]syscall.Rlimit // RLIMIT_CORE, RLIMIT_NOFILE
	uid     int
}

func readCallerState(t *testing.T) callerState {
	t.Helper()
	st := callerState{threads: map[string]string{}, uid: os.Geteuid()}
	tasks, err := os.ReadDir("/proc/self/task")
	must(t, err)
	for _, task := range tasks {
		dir := "/proc/self/task/" + task.Name()
		status, err := os.ReadFile(dir + "/status")
		if err != nil {
			continue // a thread that just exited
		}
		var keep []string
		for _, line := range strings.Split(string(status), "\n") {
			for _, k := range []string{"NoNewPrivs:", "Seccomp:", "Seccomp_filters:", "CapEff:", "Uid:"} {
				if strings.HasPrefix(line, k) {
					keep = append(keep, line)
				}
			}
		}
		cg, _ := os.ReadFile(dir + "/cgroup")
		ns, _ := os.Readlink(dir + "/ns/net")
		st.threads[task.Name()] = strings.Join(keep, " ") + " | " + strings.ReplaceAll(string(cg), "\n", " ") + " | " + ns
	}
	must(t, syscall.Getrlimit(syscall.RLIMIT_CORE, &st.rlimits[0]))
	must(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &st.rlimits[1]))
	return st
}

func callerChild(t *testing.T, base string) {
	d := nativeDirs{base: base, rw: filepath.Join(base, "rw"), outside: filepath.Join(base, "outside")}
	d.secret, d.data = filepath.Join(d.outside, "secret"), filepath.Join(d.rw, "data")
	// A descriptor agentd itself leaked (no close-on-exec), far from
	// 0-2: it must not reach the command.
	leak, err := syscall.Open(d.secret, syscall.O_RDONLY, 0)
	must(t, err)
	must(t, syscall.Dup2(leak, 100))
	before := readCallerState(t)
	// Several commands at once, from several threads, as the daemon runs
	// them; with both network modes.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			network := bundle.NetworkNone
			if i%2 == 1 {
				network = bundle.NetworkHost
			}
			spec := d.spec(network)
			spec.ReadPaths = []string{"/proc"}
			var out strings.Builder
			res, err := native.Run(context.Background(), spec, native.Process{Stdout: &out, Stderr: &out,
				Args: []string{"/bin/sh", "-c", "cat " + d.secret + " 2>/dev/null; echo FDS; ls /proc/self/fd; echo END; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"}})
			switch {
			case err != nil:
				errs <- err
			case strings.Contains(out.String(), "TOPSECRET") || !strings.Contains(out.String(), "NoNewPrivs:\t1") ||
				!strings.Contains(out.String(), "Seccomp:\t2") || res.Enforced.LandlockABI == 0:
				errs <- fmt.Errorf("command %d was not confined (%+v):\n%s", i, res, out.String())
			default:
				_, fds, _ := strings.Cut(out.String(), "FDS\n")
				fds, _, _ = strings.Cut(fds, "END\n")
				for _, fd := range strings.Fields(fds) {
					if fd != "0" && fd != "1" && fd != "2" && fd != "3" { // 3: ls's own
						errs <- fmt.Errorf("command %d has fd %s open:\n%s", i, fd, out.String())
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	after := readCallerState(t)
	for tid, was := range before.threads {
		if now, ok := after.threads[tid]; ok && now != was {
			t.Errorf("thread %s changed:\nbefore %s\nafter  %s", tid, was, now)
		}
	}
	for tid, now := range after.threads {
		if !strings.Contains(now, "NoNewPrivs:\t0") || !strings.Contains(now, "Seccomp:\t0") {
			t.Errorf("thread %s is restricted: %s", tid, now)
		}
	}
	if after.rlimits != before.rlimits || after.uid != before.uid {
		t.Errorf("rlimits or uid changed: %+v -> %+v", before, after)
	}
	// What a restricted caller could not do, from many threads.
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // the thread is dropped after the unshare
			if data, err := os.ReadFile(d.secret); err != nil || string(data) != "TOPSECRET\n" {
				t.Errorf("goroutine %d: reading a file outside every sandbox: %q, %v", i, data, err)
			}
			if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
				t.Errorf("goroutine %d: making a network namespace: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if err := os.WriteFile(filepath.Join(d.outside, "caller-wrote"), []byte("ok"), 0o644); err != nil {
		t.Errorf("writing outside every sandbox: %v", err)
	}
}
