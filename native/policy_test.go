package native

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/agentd/agentd/bundle"
)

func TestBuildPolicy(t *testing.T) {
	t.Setenv("AGENTD_TEST_SECRET", "caller-secret")
	proj := t.TempDir()
	st := &settings{Network: bundle.NetworkNone, UID: 65534, GID: 65534, Workdir: "src",
		ReadPaths: []string{"/data"}, WritePaths: []string{proj}, Env: map[string]string{"FOO": "bar"}}
	sp := sandboxPaths{Scratch: "/state/sb/scratch"}
	pol, err := buildPolicy(st, sp, Process{Args: []string{"make", "all"}, Env: map[string]string{"X": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if pol.Root != proj || pol.Workdir != "src" || pol.UID != 65534 || pol.NoFile != defaultNoFile {
		t.Errorf("policy %+v", pol)
	}
	if !slices.Equal(pol.Landlock.Write, []string{proj, "/state/sb/scratch"}) || !slices.Equal(pol.Landlock.Read, []string{"/data"}) {
		t.Errorf("landlock paths: write %q, read %q", pol.Landlock.Write, pol.Landlock.Read)
	}
	if pol.Landlock.MinABI != MinLandlockABI || len(pol.Landlock.ConnectTCP) != 0 || !pol.Seccomp.DenyInet {
		t.Errorf("network none: %+v %+v", pol.Landlock, pol.Seccomp)
	}
	for _, want := range []string{"FOO=bar", "X=1", "HOME=/state/sb/scratch"} {
		if !slices.Contains(pol.Env, want) {
			t.Errorf("env %q lacks %q", pol.Env, want)
		}
	}
	// What the helper receives carries nothing of the caller's environment.
	data, err := json.Marshal(pol)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "AGENTD_TEST_SECRET") || strings.Contains(string(data), "caller-secret") {
		t.Errorf("the policy carries the caller's environment: %s", data)
	}
}

func TestBuildPolicyOverrides(t *testing.T) {
	st := &settings{Network: bundle.NetworkHost, UID: 65534, GID: 65534, Workdir: "src", BestEffort: true}
	sp := sandboxPaths{Scratch: "/s"}
	pol, err := buildPolicy(st, sp, Process{Args: []string{"true"}, Workdir: "other/dir/", User: &bundle.User{UID: 1000, GID: 1001}})
	if err != nil {
		t.Fatal(err)
	}
	if pol.Root != "/s" || pol.Workdir != "other/dir" || pol.UID != 1000 || pol.GID != 1001 {
		t.Errorf("policy %+v: want root /s, workdir other/dir, user 1000:1001", pol)
	}
	if pol.Seccomp.DenyInet || !slices.Equal(pol.Landlock.ConnectTCP, hostConnectTCP) || pol.Landlock.MinABI != 0 || !pol.BestEffort {
		t.Errorf("network host, bestEffort: %+v %+v", pol.Landlock, pol.Seccomp)
	}
	pol, err = buildPolicy(&settings{UID: 1, GID: 1}, sp, Process{Args: []string{"true"}})
	if err != nil || pol.Workdir != "." {
		t.Errorf("default workdir: %+v %v", pol, err)
	}
}

func TestBuildPolicyRefuses(t *testing.T) {
	st := &settings{Network: bundle.NetworkNone, UID: 65534, GID: 65534}
	sp := sandboxPaths{Scratch: "/s"}
	tests := []struct {
		p    Process
		want error
	}{
		{Process{}, ErrInvalidSpec},
		{Process{Args: []string{""}}, ErrInvalidSpec},
		{Process{Args: []string{"true"}, Workdir: "/etc"}, ErrInvalidWorkdir},
		{Process{Args: []string{"true"}, Workdir: "../x"}, ErrInvalidWorkdir},
		{Process{Args: []string{"true"}, User: &bundle.User{}}, ErrInvalidSpec},
		{Process{Args: []string{"true"}, Env: map[string]string{"=": ""}}, ErrInvalidSpec},
	}
	for _, tc := range tests {
		if _, err := buildPolicy(st, sp, tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%+v: err = %v, want %v", tc.p, err, tc.want)
		}
	}
}

func TestRoot(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/file"
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sp := sandboxPaths{Scratch: "/s"}
	for _, tc := range []struct {
		write []string
		want  string
	}{
		{nil, "/s"},
		{[]string{dir}, dir},
		{[]string{file, dir}, dir},
		{[]string{file}, "/s"},
	} {
		if got := (&settings{WritePaths: tc.write}).root(sp); got != tc.want {
			t.Errorf("root with write paths %q = %q, want %q", tc.write, got, tc.want)
		}
	}
}
