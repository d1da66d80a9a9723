//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// TestOCIHooks checks that every hook runs, at its point in the lifecycle,
// with the container's state on stdin, and that `state` reports "creating"
// while a create is under way.
func TestOCIHooks(t *testing.T) {
	e := newOCIEnv(t)
	out := t.TempDir()
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + filepath.Join(out, name+".json")}}
	}
	b := e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			Prestart: []specs.Hook{hook("prestart")}, // deprecated by the spec, still run
			CreateRuntime: []specs.Hook{hook("createRuntime"), {
				Path: e.bin, Args: []string{"agentd", "--root", e.root, "state", "h1"},
			}},
			CreateContainer: []specs.Hook{hook("createContainer")},
			// startContainer runs inside the container, so it writes
			// through a bind mount of out.
			StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > /hooks/startContainer.json"}}},
			Poststart:      []specs.Hook{hook("poststart")},
			Poststop:       []specs.Hook{hook("poststop")},
		}
		s.Hooks.CreateRuntime[1].Args = []string{"sh", "-c", e.bin + " --root " + e.root + " state h1 > " + filepath.Join(out, "state-during-create.json")}
		s.Hooks.CreateRuntime[1].Path = "/bin/sh"
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooks", Type: "bind", Source: out, Options: []string{"rbind", "rw"}})
	})
	e.ok("create", "--bundle", b, "h1")
	e.ok("start", "h1")
	e.waitStatus("h1", specs.StateStopped)
	e.ok("delete", "h1")

	want := map[string]specs.ContainerState{
		"prestart":            specs.StateCreating,
		"createRuntime":       specs.StateCreating,
		"createContainer":     specs.StateCreating,
		"startContainer":      specs.StateCreated,
		"poststart":           specs.StateRunning,
		"poststop":            specs.StateStopped,
		"state-during-create": specs.StateCreating,
	}
	for name, status := range want {
		var st specs.State
		readJSON(t, filepath.Join(out, name+".json"), &st)
		if st.ID != "h1" || st.Status != status || st.Bundle != b {
			t.Errorf("%s: state %+v, want id h1, status %q, bundle %s", name, st, status, b)
		}
	}
}

// TestOCIPoststartFailureWarns: a failing poststart hook only logs a
// warning (runtime.md); the container keeps running.
func TestOCIPoststartFailureWarns(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle(sleeper, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/false"}}}
	})
	log := filepath.Join(t.TempDir(), "log")
	e.ok("create", "--bundle", b, "ps1")
	if r := e.run("", "--log", log, "start", "ps1"); r.code != 0 {
		t.Fatalf("start with a failing poststart hook: exit %d, %s", r.code, r.stderr)
	}
	if got := e.state("ps1").Status; got != specs.StateRunning {
		t.Errorf("status %q after a failing poststart hook, want running", got)
	}
	data, _ := os.ReadFile(log)
	if !strings.Contains(string(data), "level=warning") || !strings.Contains(string(data), "poststart hook") {
		t.Errorf("no warning about the hook in the log:\n%s", data)
	}
}

// TestOCIRunSignalWhileStarting: a TERM that reaches a foreground `run`
// while it is still starting the container (here from a createRuntime hook,
// which agentd runs) is forwarded to the process once it runs: agentd
// itself is not killed half-way, and the container is deleted. The
// container shares the host's pid namespace: as pid 1 of its own, the
// process would ignore a TERM it has no handler for yet.
func TestOCIRunSignalWhileStarting(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle([]string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "kill -TERM $PPID"}}}}
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.PIDNamespace })
	})
	r := e.run("", "run", "--bundle", b, "sig1")
	if r.code != 128+int(syscall.SIGTERM) {
		t.Errorf("run with a TERM while starting: exit %d (stderr %q), want %d: the container's process killed by it",
			r.code, r.stderr, 128+int(syscall.SIGTERM))
	}
	if st := e.run("", "state", "sig1"); st.code == 0 {
		t.Errorf("the container is still there after run: %s", st.stdout)
	}
}

// TestOCIForegroundSignals: a signal sent to a foreground `run` or `exec`
// reaches the process, whose exit code becomes agentd's; a real-time
// signal too, whose default effect would end agentd.
func TestOCIForegroundSignals(t *testing.T) {
	e := newOCIEnv(t)
	script := `trap 'echo got USR1; exit 3' USR1; trap 'echo got 40; exit 4' 40; echo ready; while :; do sleep 1 & wait $!; done`
	check := func(sig syscall.Signal, want int, args ...string) {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cmd := exec.Command(e.bin, append([]string{"--root", e.root}, args...)...)
		// Files, not pipes copied by os/exec, so that Wait returns when
		// agentd exits, even if the container it lost holds them.
		stderr := outputFile(t)
		cmd.Stdout, cmd.Stderr = w, stderr
		err = cmd.Start()
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		// Reads give up after a minute: a container agentd lost would
		// hold the pipe open.
		_ = r.SetReadDeadline(time.Now().Add(time.Minute))
		lines := bufio.NewReader(r)
		if l, _ := lines.ReadString('\n'); l != "ready\n" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("agentd %v: first line %q, want ready; stderr %q", args, l, readAll(t, stderr))
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err = waitTimeout(cmd, 30*time.Second)
		_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, _ := io.ReadAll(lines)
		ee, _ := err.(*exec.ExitError)
		wantOut := fmt.Sprintf("got %s\n", map[syscall.Signal]string{syscall.SIGUSR1: "USR1", 40: "40"}[sig])
		if ee == nil || ee.ExitCode() != want || string(rest) != wantOut {
			t.Errorf("agentd %v, then signal %d: %v, output %q, stderr %q; want exit %d, %q", args, sig, err, rest, readAll(t, stderr), want, wantOut)
		}
	}
	b := e.bundle([]string{"sh", "-c", script}, nil)
	check(syscall.SIGUSR1, 3, "run", "--bundle", b, "fg1")
	check(40, 4, "run", "--bundle", b, "fg2")
	e.ok("run", "-d", "--bundle", e.bundle(sleeper, nil), "fg3")
	check(syscall.SIGUSR1, 3, "exec", "fg3", "sh", "-c", script)
	check(40, 4, "exec", "fg3", "sh", "-c", script)
}
