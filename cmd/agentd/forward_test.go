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
func packet(cwd string, argv, env []string) []byte {
	fields := append([]string{forwardMagic, cwd, strconv.Itoa(len(argv))}, argv...)
	fields = append(fields, env...)
	return []byte(strings.Join(fields, "\x00") + "\x00")
}

func TestParseForwardRequest(t *testing.T) {
	argv := []string{"agentd", "sandbox", "run", "--backend", "native", "--", "sh", "-c", "echo a=b"}
	env := []string{"TMPDIR=/var/tmp", "SECRET=x=y"}
	req, err := parseForwardRequest(packet("/home/u", argv, env))
	if err != nil {
		t.Fatal(err)
	}
	if req.cwd != "/home/u" || !slices.Equal(req.argv, argv) || !slices.Equal(req.env, env) {
		t.Fatalf("decoded %+v", req)
	}
	if req.tempDir() != "/var/tmp" || req.getenv("SECRET") != "x=y" {
		t.Errorf("tempDir %q, SECRET %q", req.tempDir(), req.getenv("SECRET"))
	}
	if (&forwardRequest{}).tempDir() != "/tmp" {
		t.Error("no TMPDIR: the CLI would use /tmp")
	}
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"unterminated":   []byte(forwardMagic + "\x00/\x001\x00agentd"),
		"other protocol": []byte("agentd-run/2\x00/\x001\x00agentd\x00"),
		"count too big":  []byte(forwardMagic + "\x00/\x005\x00agentd\x00"),
		"count zero":     []byte(forwardMagic + "\x00/\x000\x00"),
		"count not int":  []byte(forwardMagic + "\x00/\x00x\x00agentd\x00"),
	} {
		if _, err := parseForwardRequest(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseForwarded(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(spec, []byte(`{"backend":"native","env":{"FROM_SPEC":"1"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
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
	if fc, ok = parse("sandbox", "run", "--spec", spec, "--", "true"); !ok || fc.spec.Env["FROM_SPEC"] != "1" {
		t.Errorf("absolute --spec naming the native backend: %v", ok)
	}
	for name, args := range map[string][]string{
		"container backend": {"sandbox", "run", "--", "true"},
		"terminal":          {"sandbox", "run", "--backend", "native", "-t", "--", "true"},
		"help":              {"sandbox", "run", "--backend", "native", "--help"},
		"unknown flag":      {"sandbox", "run", "--backend", "native", "--nope", "--", "true"},
		"no command":        {"sandbox", "run", "--backend", "native"},
		"relative spec":     {"sandbox", "run", "--spec", "spec.json", "--backend", "native", "--", "true"},
		"relative spec=":    {"sandbox", "run", "--spec=spec.json", "--backend", "native", "--", "true"},
		"spec on stdin":     {"sandbox", "run", "--spec", "-", "--backend", "native", "--", "true"},
		"other command":     {"sandbox", "ls"},
	} {
		if _, ok := parse(args...); ok {
			t.Errorf("%s: taken, want declined", name)
		}
	}
}
