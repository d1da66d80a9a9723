package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

func FuzzDecodeExecRequest(f *testing.F) {
	for _, s := range []string{
		`{"args":["sh","-c","echo hi"]}`,
		`{"args":["true"],"env":{"A":"b"},"workdir":"/tmp","timeoutMs":5,"tty":true,"ttySize":{"rows":2,"cols":3}}`,
		`{"args":["cat"],"stdin":"aGVsbG8="}`,
		`{"args":[""]}`, `{"args":["x"],"env":{"A=B":"c"}}`, `{`, `null`, `{"args":["a"]} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := api.DecodeExecRequest(data)
		if err != nil {
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("decoded request does not validate: %v", err)
		}
		// What decodes must survive a round trip unchanged.
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, err := api.DecodeExecRequest(again)
		if err != nil {
			t.Fatalf("round trip: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(normalize(req), normalize(req2)) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", req, req2)
		}
	})
}

// normalize makes empty and nil collections compare equal.
func normalize(r *api.ExecRequest) *api.ExecRequest {
	c := *r
	if len(c.Env) == 0 {
		c.Env = nil
	}
	if len(c.Stdin) == 0 {
		c.Stdin = nil
	}
	return &c
}

func FuzzDecodeCreateRequest(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","spec":{"backend":"container","profile":"minimal"}}`,
		`{"spec":{"mounts":[{"source":"/a","target":"/b","readonly":true}],"limits":{"memoryBytes":1e9,"cpus":1.5}}}`,
		`{"spec":{"env":{"A":"b"},"user":{"uid":1,"gid":2},"network":{"mode":"host"}}}`,
		`{"name":"../x"}`, `{"spec":{"bogus":1}}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := api.DecodeCreateRequest(data)
		if err != nil {
			return
		}
		if req.Name != "" && api.ValidateID(req.Name) != nil {
			t.Fatalf("accepted name %q", req.Name)
		}
		spec := req.Spec.WithDefaults()
		_ = spec.Validate() // must not panic
	})
}

// FuzzAPI sends arbitrary requests to the API handler: it must answer every
// one with a sensible status and, for errors, a JSON error body, and never
// panic. The fake backend refuses execs here, so the fuzzer runs nothing.
func FuzzAPI(f *testing.F) {
	f.Add("POST", "/v1/sandboxes", []byte(`{"name":"a"}`))
	f.Add("POST", "/v1/sandboxes/a/exec", []byte(`{"args":["true"]}`))
	f.Add("DELETE", "/v1/sandboxes/a?force=1", []byte(nil))
	f.Add("POST", "/v1/sandboxes/a/pause", []byte(nil))
	f.Add("GET", "/v1/sandboxes/a/stats", []byte(nil))
	f.Add("GET", "/v1/sandboxes", []byte(nil))
	f.Add("PUT", "/v1/x", []byte("{"))
	dir := f.TempDir()
	fb := newFakeBackend(bundle.BackendContainer)
	fb.noExec = true
	sup, err := New(dir, []Backend{fb}, nil)
	if err != nil {
		f.Fatal(err)
	}
	srv := NewServer(sup, nil, nil)
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(context.Background(), method, "http://agentd"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 || rec.Code == 500 {
			t.Fatalf("%s %s %q: status %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var eb api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Message == "" {
				t.Fatalf("%s %s: status %d body %q is not a JSON error", method, path, rec.Code, rec.Body)
			}
		}
	})
}

// FuzzInputFrames feeds arbitrary bytes to the reader of upgraded exec
// connections: it must not panic and must end when the input ends.
func FuzzInputFrames(f *testing.F) {
	f.Add([]byte(`{"stdin":"aGk="}` + "\n" + `{"resize":{"rows":1,"cols":2}}` + "\n" + `{"closeStdin":true}` + "\n"))
	f.Add([]byte("{\n"))
	f.Add([]byte(`{"stdin":"!!"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pr, pw := io.Pipe()
		go io.Copy(io.Discard, pr)
		resize := make(chan api.Size, 1)
		done := make(chan struct{})
		readInput(bufio.NewReader(bytes.NewReader(data)), pw, resize, func() { close(done) })
		<-done
	})
}
