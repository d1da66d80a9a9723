package supervisor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

// testSup returns a Supervisor over a fresh state dir with a fake
// "container" backend.
func testSup(t *testing.T) (*Supervisor, *fakeBackend, string) {
	t.Helper()
	dir := t.TempDir()
	fb := newFakeBackend(bundle.BackendContainer)
	s, err := New(dir, []Backend{fb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, fb, dir
}

func mustCreate(t *testing.T, s *Supervisor, name string) *api.SandboxInfo {
	t.Helper()
	info, err := s.Create(context.Background(), &api.CreateRequest{Name: name})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return info
}

// run executes a command and returns its result and output.
func run(t *testing.T, s *Supervisor, id string, req *api.ExecRequest) (*api.ExitResult, string, string) {
	t.Helper()
	var out, errb syncBuffer
	res, err := s.Exec(context.Background(), id, req, ExecIO{Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatalf("exec %v: %v", req.Args, err)
	}
	return res, out.String(), errb.String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestCreateListInspect(t *testing.T) {
	s, _, dir := testSup(t)
	info := mustCreate(t, s, "web")
	if info.State != api.Running || info.Backend != "container" || info.Name != "web" {
		t.Fatalf("created %+v", info)
	}
	for _, f := range []string{"spec.json", "state.json"} {
		st, err := os.Stat(filepath.Join(dir, "sandboxes", info.ID, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	got, err := s.Inspect("web")
	if err != nil || got.ID != info.ID || got.Spec == nil || got.Spec.Profile != "standard" {
		t.Fatalf("inspect by name: %+v, %v", got, err)
	}
	if l := s.List(); len(l) != 1 || l[0].ID != info.ID {
		t.Fatalf("list = %+v", l)
	}
	if _, err := s.Create(context.Background(), &api.CreateRequest{Name: "web"}); !errors.Is(err, api.ErrExist) {
		t.Fatalf("duplicate name: %v", err)
	}
}

func TestCreateRefusesBadSpec(t *testing.T) {
	s, _, dir := testSup(t)
	for name, spec := range map[string]bundle.Spec{
		"profile": {Profile: "nope"},
		"backend": {Backend: "vm"},
		"limits":  {Limits: bundle.Limits{MemoryBytes: -1}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Create(context.Background(), &api.CreateRequest{Spec: spec})
			if !errors.Is(err, api.ErrInvalidArgument) {
				t.Fatalf("got %v, want ErrInvalidArgument", err)
			}
		})
	}
	// A backend that is valid in a spec but not configured.
	_, err := s.Create(context.Background(), &api.CreateRequest{Spec: bundle.Spec{Backend: "native"}})
	if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("unconfigured backend: %v", err)
	}
	assertEmpty(t, s, dir)
}

func TestCreateFailureLeavesNothing(t *testing.T) {
	s, fb, dir := testSup(t)
	events, stop := s.Subscribe()
	defer stop()
	fb.failCreate = errors.New("overlay: boom")
	if _, err := s.Create(context.Background(), &api.CreateRequest{Name: "x"}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("create: %v", err)
	}
	assertEmpty(t, s, dir)
	want := []string{"state:creating", "state:failed", "removed"}
	for i, w := range want {
		e := <-events
		if got := eventKey(e); got != w {
			t.Fatalf("event %d = %s, want %s", i, got, w)
		}
	}
	// The name is free again.
	mustCreate(t, s, "x")
}

func assertEmpty(t *testing.T, s *Supervisor, dir string) {
	t.Helper()
	if l := s.List(); len(l) != 0 {
		t.Fatalf("list = %+v, want empty", l)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "sandboxes"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("state dir holds %v", ents)
	}
}

func eventKey(e api.Event) string {
	if e.Type == api.EventState {
		return "state:" + string(e.To)
	}
	return e.Type
}

func TestExec(t *testing.T) {
	s, _, _ := testSup(t)
	id := mustCreate(t, s, "").ID
	tests := []struct {
		name           string
		req            api.ExecRequest
		code           int
		stdout, stderr string
	}{
		{"ok", api.ExecRequest{Args: []string{"sh", "-c", "echo out; echo err >&2"}}, 0, "out\n", "err\n"},
		{"code", api.ExecRequest{Args: []string{"sh", "-c", "exit 3"}}, 3, "", ""},
		{"signal", api.ExecRequest{Args: []string{"sh", "-c", "kill -TERM $$"}}, 128 + 15, "", ""},
		{"not found", api.ExecRequest{Args: []string{"/no/such/cmd"}}, 127, "", ""},
		{"not executable", api.ExecRequest{Args: []string{notExecutable(t)}}, 126, "", ""},
		{"env", api.ExecRequest{Args: []string{"sh", "-c", `echo "$FOO:$HOME:$LANG"`}, Env: map[string]string{"FOO": "bar"}}, 0, "bar:/root:C.UTF-8\n", ""},
		{"no daemon env", api.ExecRequest{Args: []string{"sh", "-c", `echo "${GOPATH:-unset}"`}}, 0, "unset\n", ""},
		{"stdin", api.ExecRequest{Args: []string{"cat"}, Stdin: []byte("hello")}, 0, "hello", ""},
		{"workdir", api.ExecRequest{Args: []string{"pwd"}, Workdir: "/tmp"}, 0, "/tmp\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdin *bytes.Reader
			var out, errb syncBuffer
			eio := ExecIO{Stdout: &out, Stderr: &errb}
			if tt.req.Stdin != nil {
				stdin = bytes.NewReader(tt.req.Stdin)
				eio.Stdin = stdin
			}
			res, err := s.Exec(context.Background(), id, &tt.req, eio)
			if err != nil {
				t.Fatal(err)
			}
			if res.Code != tt.code || out.String() != tt.stdout || errb.String() != tt.stderr {
				t.Fatalf("got code %d stdout %q stderr %q (%+v), want %d %q %q",
					res.Code, out.String(), errb.String(), res, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestExecTimeoutKillsTree(t *testing.T) {
	s, _, _ := testSup(t)
	id := mustCreate(t, s, "").ID
	start := time.Now()
	res, _, _ := run(t, s, id, &api.ExecRequest{Args: []string{"sh", "-c", "sleep 30 & sleep 30; wait"}, TimeoutMs: 300})
	if !res.TimedOut || res.Code != api.ExitTimeout {
		t.Fatalf("result %+v, want timed out with 124", res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	if info, _ := s.Inspect(id); len(info.Execs) != 0 {
		t.Fatalf("exec still listed: %+v", info.Execs)
	}
}

func TestSpecTimeoutIsDefault(t *testing.T) {
	s, _, _ := testSup(t)
	info, err := s.Create(context.Background(), &api.CreateRequest{Spec: bundle.Spec{Limits: bundle.Limits{TimeoutMs: 200}}})
	if err != nil {
		t.Fatal(err)
	}
	res, _, _ := run(t, s, info.ID, &api.ExecRequest{Args: []string{"sleep", "10"}})
	if !res.TimedOut {
		t.Fatalf("result %+v, want timed out", res)
	}
}

func TestExecClientGoneKills(t *testing.T) {
	s, _, _ := testSup(t)
	id := mustCreate(t, s, "").ID
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan api.ExecInfo, 1)
	go func() {
		<-started
		cancel()
	}()
	res, err := s.Exec(ctx, id, &api.ExecRequest{Args: []string{"sleep", "30"}},
		ExecIO{Started: func(e api.ExecInfo) { started <- e }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Killed || res.Code != 128+9 {
		t.Fatalf("result %+v", res)
	}
}

func TestLifecycleRefusals(t *testing.T) {
	s, _, _ := testSup(t)
	id := mustCreate(t, s, "").ID
	ctx := context.Background()
	if _, err := s.Resume(ctx, id); !errors.Is(err, api.ErrInvalidState) {
		t.Fatalf("resume running: %v", err)
	}
	if info, err := s.Pause(ctx, id); err != nil || info.State != api.Paused {
		t.Fatalf("pause: %+v %v", info, err)
	}
	if _, err := s.Pause(ctx, id); !errors.Is(err, api.ErrInvalidState) {
		t.Fatalf("pause twice: %v", err)
	}
	if _, err := s.Exec(ctx, id, &api.ExecRequest{Args: []string{"true"}}, ExecIO{}); !errors.Is(err, api.ErrInvalidState) {
		t.Fatalf("exec paused: %v", err)
	}
	if st, err := s.Stats(ctx, id); err != nil || st.MemoryBytes == 0 {
		t.Fatalf("stats paused: %+v %v", st, err)
	}
	if _, err := s.Resume(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"nosuch", "../etc", ""} {
		if _, err := s.Inspect(ref); !errors.Is(err, api.ErrNotExist) && !errors.Is(err, api.ErrInvalidID) {
			t.Fatalf("inspect %q: %v", ref, err)
		}
	}
	if err := s.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, id, false); !errors.Is(err, api.ErrNotExist) {
		t.Fatalf("second rm: %v", err)
	}
	if _, err := s.Exec(ctx, id, &api.ExecRequest{Args: []string{"true"}}, ExecIO{}); !errors.Is(err, api.ErrNotExist) {
		t.Fatalf("exec removed: %v", err)
	}
}

func TestDeadSandboxStops(t *testing.T) {
	s, fb, _ := testSup(t)
	id := mustCreate(t, s, "").ID
	fb.get(id).dead = true
	if _, err := s.Exec(context.Background(), id, &api.ExecRequest{Args: []string{"true"}}, ExecIO{}); !errors.Is(err, api.ErrNotRunning) {
		t.Fatalf("exec dead: %v", err)
	}
	if info, _ := s.Inspect(id); info.State != api.Stopped {
		t.Fatalf("state %s, want stopped", info.State)
	}
	if err := s.Remove(context.Background(), id, false); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveWithRunningExec(t *testing.T) {
	s, fb, _ := testSup(t)
	id := mustCreate(t, s, "").ID
	started := make(chan struct{})
	done := make(chan *api.ExitResult)
	go func() {
		res, _ := s.Exec(context.Background(), id, &api.ExecRequest{Args: []string{"sleep", "30"}},
			ExecIO{Started: func(api.ExecInfo) { close(started) }})
		done <- res
	}()
	<-started
	if err := s.Remove(context.Background(), id, false); !errors.Is(err, api.ErrInvalidState) {
		t.Fatalf("rm without force: %v", err)
	}
	if err := s.Remove(context.Background(), id, true); err != nil {
		t.Fatalf("rm -f: %v", err)
	}
	select {
	case res := <-done:
		if !res.Killed {
			t.Fatalf("exec result %+v, want killed", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("exec survived rm -f")
	}
	if !fb.get(id).isDestroyed() {
		t.Fatal("backend sandbox not destroyed")
	}
}

func TestEventsOfLifecycle(t *testing.T) {
	s, _, _ := testSup(t)
	ch, stop := s.Subscribe()
	defer stop()
	ctx := context.Background()
	id := mustCreate(t, s, "").ID
	run(t, s, id, &api.ExecRequest{Args: []string{"true"}})
	s.Pause(ctx, id)
	s.Resume(ctx, id)
	s.Remove(ctx, id, false)
	want := []string{"state:creating", "state:running", "exec.start", "exec.exit",
		"state:paused", "state:running", "state:removing", "removed"}
	var seq uint64
	for i, w := range want {
		e := <-ch
		if eventKey(e) != w || e.Sandbox != id || e.Seq <= seq {
			t.Fatalf("event %d = %+v, want %s", i, e, w)
		}
		seq = e.Seq
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	b := newBroker()
	ch, stop := b.subscribe()
	defer stop()
	for range subscriberBuffer + 1 {
		b.publish(api.Event{Type: api.EventState})
	}
	n := 0
	for range ch {
		n++
	}
	if n != subscriberBuffer {
		t.Fatalf("got %d events before the close, want %d", n, subscriberBuffer)
	}
}

// Execs that run when a forced remove comes are killed; those that come
// after it are refused; none is left running, whatever the interleaving.
func TestExecRaceWithRemove(t *testing.T) {
	s, _, _ := testSup(t)
	id := mustCreate(t, s, "").ID
	const running, racing = 10, 10
	started := make(chan struct{}, running+racing)
	var wg sync.WaitGroup
	exec := func(wantKilled bool) {
		defer wg.Done()
		res, err := s.Exec(context.Background(), id, &api.ExecRequest{Args: []string{"sleep", "30"}},
			ExecIO{Started: func(api.ExecInfo) { started <- struct{}{} }})
		switch {
		case err != nil && !errors.Is(err, api.ErrInvalidState) && !errors.Is(err, api.ErrNotExist):
			t.Errorf("exec: %v", err)
		case err == nil && !res.Killed:
			t.Errorf("an exec that ran during the remove ended unkilled: %+v", res)
		case wantKilled && err != nil:
			t.Errorf("an exec started before the remove: %v", err)
		}
	}
	wg.Add(running)
	for range running {
		go exec(true)
	}
	for range running {
		<-started
	}
	wg.Add(racing)
	for range racing {
		go exec(false)
	}
	if err := s.Remove(context.Background(), id, true); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestReapZombies(t *testing.T) {
	// An orphan-like child: started, exited, never waited for by anyone.
	pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until it is a zombie, leaving it one (WNOWAIT).
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	seen := map[int]time.Time{}
	now := time.Now()
	reapZombies(seen, now) // first noticed: within its grace
	if st, _, ok := procStat(pid); !ok || st != 'Z' {
		t.Fatalf("zombie %d reaped before its grace passed (state %c, there %v)", pid, st, ok)
	}
	reapZombies(seen, now.Add(2*reapGrace))
	if _, _, ok := procStat(pid); ok {
		t.Fatalf("zombie %d not reaped after its grace", pid)
	}
}

// notExecutable returns a file without execute permission.
func notExecutable(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
