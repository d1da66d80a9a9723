//go:build linux

package native

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentd/agentd/bundle"
)

// TestMain makes the test binary its own native-exec helper, as agentd is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HelperArg {
		HelperMain() // never returns
	}
	os.Exit(m.Run())
}

// TestHelperAndSpawnAgree runs the same command through the spawn child and
// through the helper: both must confine it the same way and report the
// same.
func TestHelperAndSpawnAgree(t *testing.T) {
	caps := Probe()
	switch {
	case !caps.Root:
		t.Skip("running commands needs root (cgroups, switching user)")
	case caps.LandlockABI < MinLandlockABI || !caps.Seccomp() || caps.CgroupVersion == 0:
		t.Skipf("this host cannot confine commands: %+v", caps)
	case !spawnSafe():
		// Both runs would go through the helper: nothing to compare.
		t.Skip("fs.suid_dumpable is 1: every command starts through the helper")
	}
	base, err := os.MkdirTemp("", "agentd-agree-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	rw, secret := filepath.Join(base, "rw"), filepath.Join(base, "secret")
	for _, err := range []error{
		os.Chmod(base, 0o755), os.Mkdir(rw, 0o755), os.Chown(rw, defaultUID, defaultGID),
		os.WriteFile(secret, []byte("TOPSECRET\n"), 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	spec := &bundle.Spec{Backend: bundle.BackendNative, WritePaths: []string{rw}, ReadPaths: []string{"/proc"}}
	script := "cat " + secret + "; echo x > f && echo wrote; id -u; ulimit -n; ulimit -c; pwd; " +
		"grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; cat /proc/net/dev | wc -l"
	var outs [2]string
	var reports [2]Report
	for i, helper := range []bool{false, true} {
		forceHelper = helper
		var out bytes.Buffer
		res, err := Run(context.Background(), spec, Process{Args: []string{"/bin/sh", "-c", script}, Stdout: &out, Stderr: &out})
		forceHelper = false
		if err != nil {
			t.Fatalf("helper %v: %v", helper, err)
		}
		outs[i], reports[i] = out.String(), res.Enforced
		reports[i].Cgroup = ""
	}
	if outs[0] != outs[1] {
		t.Errorf("spawn and helper differ:\n%s\n--- helper:\n%s", outs[0], outs[1])
	}
	for _, w := range []string{"Permission denied", "wrote\n65534\n4096\n0\n" + rw + "\n", "NoNewPrivs:\t1\nSeccomp:\t2\n3\n"} {
		if !strings.Contains(outs[0], w) {
			t.Errorf("want %q in:\n%s", w, outs[0])
		}
	}
	if strings.Contains(outs[0], "TOPSECRET") {
		t.Errorf("read a file outside the sandbox:\n%s", outs[0])
	}
	if !reflect.DeepEqual(reports[0], reports[1]) {
		t.Errorf("reports differ:\nspawn  %+v\nhelper %+v", reports[0], reports[1])
	}
}

// The helper confines itself with a spec that does not let it read /proc:
// libpsx, which applies Landlock to each of its threads, needs to list its
// own tasks after the first one is confined.
func TestHelperDefaultSpec(t *testing.T) {
	caps := Probe()
	switch {
	case !caps.Root:
		t.Skip("running commands needs root (cgroups, switching user)")
	case caps.LandlockABI < MinLandlockABI || !caps.Seccomp() || caps.CgroupVersion == 0:
		t.Skipf("this host cannot confine commands: %+v", caps)
	}
	forceHelper = true
	defer func() { forceHelper = false }()
	var out bytes.Buffer
	res, err := Run(context.Background(), &bundle.Spec{Backend: bundle.BackendNative},
		Process{Args: []string{"/bin/sh", "-c", "echo ok; cat /proc/1/environ"}, Stdout: &out, Stderr: &out})
	if err != nil || res.ExitCode != 1 || !strings.HasPrefix(out.String(), "ok\n") {
		t.Fatalf("through the helper: %v, exit %d, output %q; want ok, then /proc/1/environ refused", err, res.ExitCode, out.String())
	}
}
