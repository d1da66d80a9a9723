package api

import (
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/agentd/agentd/bundle"
)

// TestClassifyRoundTrip: every sentinel the daemon wraps comes back out of
// the kind the client receives, and gets its documented status.
func TestClassifyRoundTrip(t *testing.T) {
	cases := []struct {
		err    error
		status int
		want   error // what the client matches
	}{
		{ErrNotExist, http.StatusNotFound, ErrNotExist},
		{ErrExist, http.StatusConflict, ErrExist},
		{ErrInvalidID, http.StatusBadRequest, ErrInvalidArgument},
		{ErrInvalidArgument, http.StatusBadRequest, ErrInvalidArgument},
		{bundle.ErrInvalidSpec, http.StatusBadRequest, ErrInvalidArgument},
		{ErrNotRunning, http.StatusConflict, ErrNotRunning},
		{ErrInvalidState, http.StatusConflict, ErrInvalidState},
		{ErrUnsupported, http.StatusNotImplemented, ErrUnsupported},
		{ErrUnauthorized, http.StatusForbidden, ErrUnauthorized},
		{ErrTooLarge, http.StatusRequestEntityTooLarge, ErrTooLarge},
		{&http.MaxBytesError{Limit: 1}, http.StatusRequestEntityTooLarge, ErrTooLarge},
	}
	for _, c := range cases {
		wrapped := fmt.Errorf("sandbox x: %w", c.err)
		status, kind := Classify(wrapped)
		if status != c.status {
			t.Errorf("Classify(%v) status = %d, want %d", c.err, status, c.status)
		}
		if got := ErrorOfKind(kind); !errors.Is(got, c.want) {
			t.Errorf("ErrorOfKind(%q) = %v, want %v", kind, got, c.want)
		}
	}
	if status, kind := Classify(errors.New("disk on fire")); status != 500 || kind != KindInternal || ErrorOfKind(kind) != nil {
		t.Errorf("an unknown error: %d %q", status, kind)
	}
}

// TestClientLinksNoIsolationCode: the Go client and the wire types build
// without libcontainer, Landlock or cgroup code, so programs that only talk
// to the daemon stay small and need no cgo.
func TestClientLinksNoIsolationCode(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list dependencies with")
	}
	for _, pkg := range []string{"github.com/agentd/agentd/supervisor/api", "github.com/agentd/agentd/supervisor/client"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range []string{"opencontainers/runc", "go-landlock", "opencontainers/cgroups", "agentd/agentd/native", "agentd/agentd/runtime", "agentd/agentd/supervisor\n"} {
				if strings.Contains(dep+"\n", bad) {
					t.Errorf("%s links %s", pkg, dep)
				}
			}
		}
	}
}
