package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/agentd/agentd/supervisor/client"
)

func TestForwardDefaultSocket(t *testing.T) {
	if forwardDefaultSocket != client.DefaultSocket {
		t.Fatalf("forward_client.h: AGENTD_DEFAULT_SOCKET %q, but the CLI's default socket is %q",
			forwardDefaultSocket, client.DefaultSocket)
	}
}

// packet builds a request as forward_client.c does.
func packet(tmpdir string, argv []string) []byte {
	fields := append([]string{forwardMagic, tmpdir, strconv.Itoa(len(argv))}, argv...)
	return []byte(strings.Join(fields, "\x00") + "\x00")
}

func TestParseForwardRequest(t *testing.T) {
	argv := []string{"agentd", "sandbox", "run", "--backend", "native", "--", "sh", "-c", "echo a=b"}
	req, err := parseForwardRequest(packet("/var/tmp", argv))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(req.argv, argv) || req.tempDir() != "/var/tmp" {
		t.Fatalf("decoded %+v", req)
	}
	if req, err := parseForwardRequest(packet("", argv)); err != nil || req.tempDir() != "/tmp" {
		t.Errorf("no TMPDIR: %v %v; the CLI would use /tmp", req, err)
	}
	for name, bad := range map[string][]byte{
		"empty":           nil,
		"unterminated":    []byte(forwardMagic + "\x00\x001\x00agentd"),
		"other protocol":  []byte("agentd-run/1\x00\x001\x00agentd\x00"),
		"count too big":   []byte(forwardMagic + "\x00\x005\x00agentd\x00"),
		"count too small": []byte(forwardMagic + "\x00\x001\x00agentd\x00x\x00"),
		"count zero":      []byte(forwardMagic + "\x00\x000\x00"),
		"count not int":   []byte(forwardMagic + "\x00\x00x\x00agentd\x00"),
	} {
		if _, err := parseForwardRequest(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseForwarded(t *testing.T) {
	dir := t.TempDir()
	parse := func(args ...string) (*forwardCapture, bool) {
		return parseForwarded(&forwardRequest{argv: append([]string{"agentd"}, args...)})
	}
	fc, ok := parse("sandbox", "--socket", "/x.sock", "run", "--backend", "native", "-i", "--ro", dir,
		"--env", "A=1", "--timeout", "5s", "--", "sh", "-c", "exit 3")
	if !ok {
		t.Fatal("a native run was declined")
	}
	if !slices.Equal(fc.opts.req.Args, []string{"sh", "-c", "exit 3"}) || !fc.opts.interactive ||
		!slices.Equal(fc.spec.ReadPaths, []string{dir}) || fc.spec.Env["A"] != "1" {
		t.Errorf("parsed %+v %+v", fc.opts, fc.spec)
	}
	// Flag values are not carried from one parse to the next.
	fc, ok = parse("sandbox", "run", "--backend=native", "--", "true")
	if !ok || fc.opts.interactive || len(fc.spec.ReadPaths) != 0 || len(fc.spec.Env) != 0 {
		t.Errorf("second parse: %v %+v %+v", ok, fc.opts, fc.spec)
	}
	// A container run, with the CLI's state dir and the directory of its
	// socket, where the CLI itself would put the bundle and the container.
	fc, ok = parse("sandbox", "--socket", "/run/x/agentd.sock", "--state-dir", dir, "run", "--memory", "64m", "--", "true")
	if !ok || fc.spec.WithDefaults().Backend != "container" || fc.stateDir != dir || fc.runDir != "/run/x" ||
		fc.spec.Limits.MemoryBytes != 64<<20 {
		t.Errorf("container run: %v %+v %+v", ok, fc, fc.spec)
	}
	// A real spec file, so that only the refusal to read it can decline.
	spec := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(spec, []byte(`{"backend": "native"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"container terminal":   {"sandbox", "run", "-t", "--", "true"},
		"terminal":             {"sandbox", "run", "--backend", "native", "-t", "--", "true"},
		"help":                 {"sandbox", "run", "--backend", "native", "--help"},
		"unknown flag":         {"sandbox", "run", "--backend", "native", "--nope", "--", "true"},
		"no command":           {"sandbox", "run", "--backend", "native"},
		"spec file":            {"sandbox", "run", "--spec", spec, "--backend", "native", "--", "true"},
		"spec=":                {"sandbox", "run", "--spec=" + spec, "--backend", "native", "--", "true"},
		"-spec=":               {"sandbox", "run", "-spec=" + spec, "--backend", "native", "--", "true"},
		"spec after --name --": {"sandbox", "run", "--name", "--", "--spec", spec, "--", "true"},
		"spec on stdin":        {"sandbox", "run", "--spec", "-", "--backend", "native", "--", "true"},
		"other command":        {"sandbox", "ls"},
	} {
		if _, ok := parse(args...); ok {
			t.Errorf("%s: taken, want declined", name)
		}
	}
}

// The daemon's own AGENTD_* variables do not reach a forwarded command
// line: the CLI's arrive as flags (forward_client.c), later flags win.
func TestParseForwardedIgnoresDaemonEnv(t *testing.T) {
	t.Setenv("AGENTD_STATE_DIR", "/daemon/state")
	t.Setenv("AGENTD_SOCKET", "/daemon/run/agentd.sock")
	parse := func(args ...string) *forwardCapture {
		t.Helper()
		fc, ok := parseForwarded(&forwardRequest{argv: append([]string{"agentd"}, args...)})
		if !ok {
			t.Fatalf("%v: declined", args)
		}
		return fc
	}
	if fc := parse("sandbox", "run", "--", "true"); fc.stateDir != defaultStateDir || fc.runDir != "/run/agentd" {
		t.Errorf("no flags: state %q, run dir %q; want the defaults, not the daemon's environment", fc.stateDir, fc.runDir)
	}
	fc := parse("sandbox", "--socket", "/cli/run/agentd.sock", "--state-dir", "/cli/state", "--state-dir", "/flag/state", "run", "--", "true")
	if fc.stateDir != "/flag/state" || fc.runDir != "/cli/run" {
		t.Errorf("the CLI's variables, then a flag: state %q, run dir %q", fc.stateDir, fc.runDir)
	}
}
