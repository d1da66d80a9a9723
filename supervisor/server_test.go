package supervisor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor"
	"github.com/agentd/agentd/supervisor/api"
	"github.com/agentd/agentd/supervisor/client"
)

// daemon serves a Supervisor with a fake backend on a unix socket and
// returns a client of it.
func daemon(t *testing.T) (*client.Client, *supervisor.FakeBackend, string) {
	t.Helper()
	dir := t.TempDir()
	fb := supervisor.NewFakeBackend(bundle.BackendContainer)
	sup, err := supervisor.New(dir, []supervisor.Backend{fb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agentd.sock")
	auth := &supervisor.PeerAuth{}
	l, err := supervisor.Listen(sock, auth)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: supervisor.NewServer(sup, auth, nil), ConnContext: auth.ConnContext}
	go srv.Serve(l)
	t.Cleanup(func() {
		sup.Shutdown()
		srv.Close()
	})
	return client.New(sock), fb, sock
}

// raw sends one request and returns the status and the decoded error body.
func raw(t *testing.T, sock, method, path string, body io.Reader) (int, api.ErrorBody) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequest(method, "http://agentd"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var eb api.ErrorBody
	if resp.StatusCode >= 400 {
		if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || eb.Message == "" {
			t.Fatalf("%s %s: status %d without a JSON error body (%v)", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, eb
}

// endless is a request body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestAPIBadInput(t *testing.T) {
	c, _, sock := daemon(t)
	ctx := context.Background()
	info, err := c.Create(ctx, &api.CreateRequest{Name: "good"})
	if err != nil {
		t.Fatal(err)
	}
	paused, err := c.Create(ctx, &api.CreateRequest{Name: "paused"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pause(ctx, paused.ID); err != nil {
		t.Fatal(err)
	}
	huge := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	tests := []struct {
		name, method, path string
		body               io.Reader
		status             int
		kind               string
	}{
		{"malformed", "POST", "/v1/sandboxes", strings.NewReader("{"), 400, "invalidArgument"},
		{"empty", "POST", "/v1/sandboxes", nil, 400, "invalidArgument"},
		{"unknown field", "POST", "/v1/sandboxes", strings.NewReader(`{"spec":{"mount":[]}}`), 400, "invalidArgument"},
		{"trailing", "POST", "/v1/sandboxes", strings.NewReader(`{} {}`), 400, "invalidArgument"},
		{"bad name", "POST", "/v1/sandboxes", strings.NewReader(`{"name":"../etc"}`), 400, "invalidArgument"},
		{"bad spec", "POST", "/v1/sandboxes", strings.NewReader(`{"spec":{"profile":"godmode"}}`), 400, "invalidArgument"},
		{"taken name", "POST", "/v1/sandboxes", strings.NewReader(`{"name":"good"}`), 409, "exist"},
		{"huge body", "POST", "/v1/sandboxes", strings.NewReader(huge), 413, "tooLarge"},
		{"endless body", "POST", "/v1/sandboxes", endless{}, 413, "tooLarge"},
		{"endless exec", "POST", "/v1/sandboxes/good/exec", endless{}, 413, "tooLarge"},
		{"unknown id", "GET", "/v1/sandboxes/nosuch", nil, 404, "notExist"},
		{"bad id", "GET", "/v1/sandboxes/..", nil, 404, "notExist"},
		{"unknown rm", "DELETE", "/v1/sandboxes/nosuch", nil, 404, "notExist"},
		{"bad force", "DELETE", "/v1/sandboxes/good?force=maybe", nil, 400, "invalidArgument"},
		{"no args", "POST", "/v1/sandboxes/good/exec", strings.NewReader(`{"args":[]}`), 400, "invalidArgument"},
		{"exec unknown field", "POST", "/v1/sandboxes/good/exec", strings.NewReader(`{"args":["true"],"cmd":"x"}`), 400, "invalidArgument"},
		{"negative timeout", "POST", "/v1/sandboxes/good/exec", strings.NewReader(`{"args":["true"],"timeoutMs":-1}`), 400, "invalidArgument"},
		{"exec unknown", "POST", "/v1/sandboxes/nosuch/exec", strings.NewReader(`{"args":["true"]}`), 404, "notExist"},
		{"exec paused", "POST", "/v1/sandboxes/paused/exec", strings.NewReader(`{"args":["true"]}`), 409, "invalidState"},
		{"resume running", "POST", "/v1/sandboxes/good/resume", nil, 409, "invalidState"},
		{"snapshot unsupported", "POST", "/v1/sandboxes/good/snapshots", strings.NewReader(`{"name":"s1"}`), 501, "unsupported"},
		{"snapshot bad name", "POST", "/v1/sandboxes/good/snapshots", strings.NewReader(`{"name":"../s"}`), 400, "invalidArgument"},
		{"snapshot no name", "POST", "/v1/sandboxes/good/snapshots", strings.NewReader(`{}`), 400, "invalidArgument"},
		{"snapshot unknown field", "POST", "/v1/sandboxes/good/snapshots", strings.NewReader(`{"nom":"s"}`), 400, "invalidArgument"},
		{"snapshot unknown id", "POST", "/v1/sandboxes/nosuch/snapshots", strings.NewReader(`{"name":"s"}`), 404, "notExist"},
		{"snapshots unsupported", "GET", "/v1/sandboxes/good/snapshots", nil, 501, "unsupported"},
		{"restore bad name", "POST", "/v1/sandboxes/good/restore", strings.NewReader(`{"name":"a/b"}`), 400, "invalidArgument"},
		{"restore unsupported", "POST", "/v1/sandboxes/good/restore", strings.NewReader(`{"name":"s"}`), 501, "unsupported"},
		{"fork unsupported", "POST", "/v1/sandboxes/good/fork", strings.NewReader(`{}`), 501, "unsupported"},
		{"fork unknown", "POST", "/v1/sandboxes/nosuch/fork", strings.NewReader(`{}`), 404, "notExist"},
		{"wrong method", "PUT", "/v1/sandboxes", nil, 404, "notExist"},
		{"wrong version", "GET", "/v2/sandboxes", nil, 404, "notExist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, eb := raw(t, sock, tt.method, tt.path, tt.body)
			if status != tt.status || eb.Kind != tt.kind {
				t.Fatalf("got %d %q (%s), want %d %q", status, eb.Kind, eb.Message, tt.status, tt.kind)
			}
		})
	}
	// None of it harmed the daemon or the sandboxes.
	res, err := c.Exec(ctx, info.ID, &api.ExecRequest{Args: []string{"true"}}, client.ExecIO{})
	if err != nil || res.Code != 0 {
		t.Fatalf("exec after bad input: %+v %v", res, err)
	}
	if l, err := c.List(ctx); err != nil || len(l) != 2 {
		t.Fatalf("list after bad input: %v %v", l, err)
	}
}

func TestAPIRemoveTwice(t *testing.T) {
	c, fb, _ := daemon(t)
	ctx := context.Background()
	info, err := c.Create(ctx, &api.CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, info.ID, false); err != nil {
		t.Fatal(err)
	}
	if !fb.Destroyed(info.ID) {
		t.Fatal("not destroyed")
	}
	err = c.Remove(ctx, info.ID, false)
	var ce *client.Error
	if !errors.Is(err, api.ErrNotExist) || !errors.As(err, &ce) || ce.Status != 404 {
		t.Fatalf("second rm: %v", err)
	}
}

// timedWriter records when each write arrived.
type timedWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	times []time.Time
}

func (w *timedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.times = append(w.times, time.Now())
	return w.buf.Write(p)
}

func TestAPIExecStreams(t *testing.T) {
	c, _, _ := daemon(t)
	ctx := context.Background()
	info, _ := c.Create(ctx, &api.CreateRequest{})
	var out, errw timedWriter
	start := time.Now()
	res, err := c.Exec(ctx, info.ID, &api.ExecRequest{
		Args: []string{"sh", "-c", "echo first; echo oops >&2; sleep 1; echo second; exit 7"},
	}, client.ExecIO{Stdout: &out, Stderr: &errw})
	end := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != 7 || out.buf.String() != "first\nsecond\n" || errw.buf.String() != "oops\n" {
		t.Fatalf("got %+v %q %q", res, out.buf.String(), errw.buf.String())
	}
	if first := out.times[0].Sub(start); first > end.Sub(start)-500*time.Millisecond {
		t.Fatalf("first line arrived after %v of %v: output is not streamed", first, end.Sub(start))
	}
}

func TestAPIExecStdinUpgrade(t *testing.T) {
	c, _, _ := daemon(t)
	ctx := context.Background()
	info, _ := c.Create(ctx, &api.CreateRequest{})
	input := strings.Repeat("0123456789abcdef", 1<<17) // 2 MiB: more than a request body may hold
	var out bytes.Buffer
	res, err := c.Exec(ctx, info.ID, &api.ExecRequest{Args: []string{"sh", "-c", "cat; echo done >&2"}},
		client.ExecIO{Stdin: strings.NewReader(input), Stdout: &out, Stderr: io.Discard})
	if err != nil || res.Code != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if out.String() != input {
		t.Fatalf("got %d bytes back, want %d", out.Len(), len(input))
	}
	// Not found over the upgrade path: answered without upgrading.
	res, err = c.Exec(ctx, info.ID, &api.ExecRequest{Args: []string{"/no/such"}},
		client.ExecIO{Stdin: strings.NewReader("")})
	if err != nil || res.Code != 127 {
		t.Fatalf("not found: %+v %v", res, err)
	}
}

func TestAPIClientDisconnectKillsExec(t *testing.T) {
	for _, upgrade := range []bool{false, true} {
		t.Run(map[bool]string{false: "stream", true: "upgrade"}[upgrade], func(t *testing.T) {
			c, _, _ := daemon(t)
			ctx := context.Background()
			info, _ := c.Create(ctx, &api.CreateRequest{})
			cctx, cancel := context.WithCancel(ctx)
			eio := client.ExecIO{Started: func(api.ExecInfo) { cancel() }}
			if upgrade {
				pr, pw := io.Pipe()
				defer pw.Close()
				eio.Stdin = pr
			}
			_, err := c.Exec(cctx, info.ID, &api.ExecRequest{Args: []string{"sleep", "30"}}, eio)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("exec: %v", err)
			}
			waitNoExecs(t, c, info.ID)
			// The daemon still works.
			if res, err := c.Exec(ctx, info.ID, &api.ExecRequest{Args: []string{"true"}}, client.ExecIO{}); err != nil || res.Code != 0 {
				t.Fatalf("exec after disconnect: %+v %v", res, err)
			}
		})
	}
}

func waitNoExecs(t *testing.T, c *client.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := c.Inspect(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Execs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec still running after the client left: %+v", info.Execs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAPIEventsAndStats(t *testing.T) {
	c, _, _ := daemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Subscribe returns once the daemon follows events for us: no event
	// of the sandbox below can be missed.
	stream, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	events := make(chan api.Event, 1000)
	go func() {
		for {
			e, err := stream.Next()
			if err != nil {
				return
			}
			events <- e
		}
	}()
	info, err := c.Create(ctx, &api.CreateRequest{Name: "ev"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "ev", &api.ExecRequest{Args: []string{"true"}}, client.ExecIO{}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx, "ev")
	if err != nil || st.ID != info.ID || st.MemoryBytes == 0 {
		t.Fatalf("stats: %+v %v", st, err)
	}
	want := []string{"creating", "running", "exec.start", "exec.exit"}
	for i := 0; i < len(want); {
		w := want[i]
		select {
		case e := <-events:
			if e.Sandbox != info.ID {
				t.Fatalf("an event of another sandbox: %+v", e)
			}
			i++
			got := e.Type
			if e.Type == api.EventState {
				got = string(e.To)
			}
			if got != w {
				t.Fatalf("event %d: %+v, want %s", i, e, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event %d (%s)", i, w)
		}
	}
	caps, err := c.Probe(ctx)
	if err != nil || len(caps) != 1 || !caps[0].Available {
		t.Fatalf("probe: %+v %v", caps, err)
	}
}

func TestAPIUnreachable(t *testing.T) {
	c := client.New(filepath.Join(t.TempDir(), "none.sock"))
	if _, err := c.List(context.Background()); !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("got %v", err)
	}
}
