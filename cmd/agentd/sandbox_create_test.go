package main

import (
	"testing"
	"time"

	"github.com/agentd/agentd/bundle"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{"1024": 1024, "512m": 512 << 20, "2g": 2 << 30, "1.5G": 3 << 29, "64k": 64 << 10, "1GiB": 1 << 30, "10mb": 10 << 20}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1m", "0", "1x", "99999999t"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	good := map[string]time.Duration{"30s": 30 * time.Second, "10m": 10 * time.Minute, "5": 5 * time.Second, "0.5": 500 * time.Millisecond}
	for in, want := range good {
		if got, err := parseTimeout(in); err != nil || got != want {
			t.Errorf("parseTimeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "-5s"} {
		if _, err := parseTimeout(bad); err == nil {
			t.Errorf("parseTimeout(%q) accepted", bad)
		}
	}
}

func TestParseMount(t *testing.T) {
	tests := map[string]*bundle.Mount{
		"/a:/b":     {Source: "/a", Target: "/b"},
		"/a:/b:ro":  {Source: "/a", Target: "/b", Readonly: true},
		"/a:/b:rw":  {Source: "/a", Target: "/b"},
		"/a":        nil,
		"/a:/b:x":   nil,
		":/b":       nil,
		"/a:/b:c:d": nil,
	}
	for in, want := range tests {
		got, err := parseMount(in)
		switch {
		case want == nil && err == nil:
			t.Errorf("parseMount(%q) accepted", in)
		case want != nil && (err != nil || got != *want):
			t.Errorf("parseMount(%q) = %+v, %v; want %+v", in, got, err, *want)
		}
	}
}

func TestSplitCpArg(t *testing.T) {
	tests := []struct {
		arg, ref, path string
		in             bool
	}{
		{"abc:/tmp/x", "abc", "/tmp/x", true},
		{"/local/file", "", "/local/file", false},
		{"./a:b", "", "./a:b", false},
		{"plain", "", "plain", false},
		{"../x:/y", "", "../x:/y", false},
	}
	for _, tt := range tests {
		ref, p, in := splitCpArg(tt.arg)
		if ref != tt.ref || p != tt.path || in != tt.in {
			t.Errorf("splitCpArg(%q) = %q %q %v", tt.arg, ref, p, in)
		}
	}
}

func TestExitError(t *testing.T) {
	if e := (&exitError{code: 3}); e.Error() != "" || e.ExitCode() != 3 {
		t.Fatalf("command code: %q %d", e.Error(), e.ExitCode())
	}
	err := agentdFailed(errTest("boom"))
	if c, ok := err.(interface{ ExitCode() int }); !ok || c.ExitCode() != 125 || err.Error() != "boom" {
		t.Fatalf("agentd failure: %v", err)
	}
	if agentdFailed(&exitError{code: 124}).(*exitError).code != 124 {
		t.Fatal("an exit code was overridden")
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
