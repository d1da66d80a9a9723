//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agentd/bundle"
)

// sandboxRun materializes spec as a bundle, runs args in it through
// `agentd run`, and removes it again (even if the test fails).
func sandboxRun(t *testing.T, spec *bundle.Spec, args ...string) (result, *bundle.Bundle) {
	t.Helper()
	state := t.TempDir()
	id := "sb-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(id) > 60 {
		id = id[:60]
	}
	b, err := bundle.Materialize(state, id, spec, args)
	if err != nil {
		t.Fatalf("materialize: %v", err)
	}
	t.Cleanup(func() {
		if err := bundle.Remove(state, id); err != nil {
			t.Errorf("remove: %v", err)
		}
		if m := mountsUnder(t, state); len(m) > 0 {
			t.Errorf("mounts left after remove: %v", m)
		}
	})
	root := t.TempDir()
	r := run(t, "", agentdBin(t), "--root", root, "run", "--bundle", b.Dir, id)
	return r, b
}

func TestContainerWritesLandInUpper(t *testing.T) {
	name := "agentd-probe-" + filepath.Base(t.TempDir())
	r, b := sandboxRun(t, &bundle.Spec{}, "/bin/sh", "-c", "echo data > /usr/"+name+" && cat /usr/"+name+" && rm /usr/bin/env && ls /usr/bin/env")
	if r.code == 0 || !strings.HasPrefix(r.stdout, "data\n") {
		t.Fatalf("write to /usr then delete /usr/bin/env: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat("/usr/" + name); !os.IsNotExist(err) {
		t.Errorf("the sandbox's write reached the host's /usr: %v", err)
	}
	if _, err := os.Stat("/usr/bin/env"); err != nil {
		t.Errorf("the sandbox's delete reached the host's /usr/bin/env: %v", err)
	}
	found := false
	filepath.Walk(b.Upper, func(p string, fi os.FileInfo, err error) error {
		found = found || (err == nil && fi.Name() == name)
		return nil
	})
	if !found {
		t.Errorf("the write is not in the upper layer %s", b.Upper)
	}
}

func TestContainerSharedPaths(t *testing.T) {
	ro, rw, mnt := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ro, "in"), []byte("readable"), 0o644)
	os.WriteFile(filepath.Join(mnt, "m"), []byte("mounted"), 0o644)
	spec := &bundle.Spec{
		ReadPaths:  []string{ro},
		WritePaths: []string{rw},
		Mounts:     []bundle.Mount{{Source: mnt, Target: "/data", Readonly: true}},
	}
	script := `cat ` + ro + `/in; echo; if echo x > ` + ro + `/out; then echo ro-writable; fi
echo written > ` + rw + `/out && echo rw-ok
cat /data/m; echo; if touch /data/new; then echo mount-writable; fi`
	r, _ := sandboxRun(t, spec, "/bin/sh", "-c", script)
	want := "readable\nrw-ok\nmounted\n"
	if r.stdout != want {
		t.Errorf("stdout %q, want %q (stderr %q)", r.stdout, want, r.stderr)
	}
	if !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("writes to --ro and :ro mounts: stderr %q, want read-only refusals", r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(rw, "out")); string(data) != "written\n" {
		t.Errorf("the --rw write did not reach the host: %q", data)
	}
	if _, err := os.Stat(filepath.Join(ro, "out")); err == nil {
		t.Error("a --ro path was written")
	}
}

func TestContainerNetworkNone(t *testing.T) {
	r, _ := sandboxRun(t, &bundle.Spec{Network: bundle.Network{Mode: bundle.NetworkNone}}, "/bin/sh", "-c", "ls /sys/class/net")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "lo" {
		t.Errorf("interfaces with network none: %q (stderr %q), want only lo", r.stdout, r.stderr)
	}
}

func TestContainerHostSecretsInvisible(t *testing.T) {
	secret := "/root/agentd-test-secret-" + filepath.Base(t.TempDir())
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(secret)
	r, _ := sandboxRun(t, &bundle.Spec{}, "/bin/sh", "-c",
		"cat "+secret+" 2>/dev/null; for p in "+secret+" /etc/shadow /home /var /run; do [ -e $p ] && echo visible: $p; done; ls -A /root; cat /etc/passwd")
	if r.code != 0 || !strings.Contains(r.stdout, "root:x:0:0") {
		t.Fatalf("the check did not run: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "s3cret") || strings.Contains(r.stdout, "visible:") || strings.Contains(r.stdout, "agentd-test-secret") {
		t.Errorf("host files are visible in the sandbox:\n%s", r.stdout)
	}
	if strings.Count(r.stdout, ":x:") > 3 {
		t.Errorf("/etc/passwd looks like the host's:\n%s", r.stdout)
	}
}

func TestContainerMemoryLimit(t *testing.T) {
	spec := &bundle.Spec{Limits: bundle.Limits{MemoryBytes: 32 << 20}}
	// A 128 MiB shell variable cannot fit in 32 MiB: the OOM killer ends it.
	r, _ := sandboxRun(t, spec, "/bin/sh", "-c", `x=$(head -c 134217728 /dev/zero | tr '\0' a); echo ${#x}`)
	if r.code == 0 || strings.Contains(r.stdout, "134217728") {
		t.Errorf("allocation beyond the limit succeeded: code %d stdout %q", r.code, r.stdout)
	}
	r, _ = sandboxRun(t, spec, "/bin/sh", "-c", `x=$(head -c 1048576 /dev/zero | tr '\0' a); echo ${#x}`)
	if r.code != 0 || r.stdout != "1048576\n" {
		t.Errorf("1 MiB within the limit: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestContainerPidsLimit(t *testing.T) {
	spec := &bundle.Spec{Limits: bundle.Limits{Pids: 16}}
	// A fork bomb in the background; the shell itself reports back, which
	// shows the sandbox stayed usable, and pids.events counts the refusals.
	// The shell polls pids.events with builtins only (read, echo), since
	// the bomb leaves it no pid to fork with.
	script := `bomb() { bomb | bomb & }; (bomb) 2>/dev/null &
f=/sys/fs/cgroup/pids/pids.events; [ -r $f ] || f=/sys/fs/cgroup/pids.events
n=0; i=0
while [ "$n" = 0 ] && [ $i -lt 200000 ]; do read -r _ n < $f; i=$((i+1)); done
read -r m < "${f%/*}/pids.max"; echo "max $n limit $m"; echo alive`
	r, _ := sandboxRun(t, spec, "/bin/sh", "-c", script)
	if !strings.Contains(r.stdout, "alive") {
		t.Fatalf("the sandbox did not survive its fork bomb: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "max ") || strings.Contains(r.stdout, "max 0 ") {
		t.Errorf("pids.events shows no refused fork: %q", r.stdout)
	}
	if !strings.Contains(r.stdout, " limit 16\n") {
		t.Errorf("pids.max is not the spec's 16: %q", r.stdout)
	}
}

func TestContainerDefaultSeccompAndCaps(t *testing.T) {
	// mount needs CAP_SYS_ADMIN, which the standard profile drops, and the
	// mount syscall; a new user namespace needs no capability, so only the
	// seccomp filter refuses `unshare -U`. A plain command still runs, in
	// seccomp filter mode (2).
	r, _ := sandboxRun(t, &bundle.Spec{}, "/bin/sh", "-c",
		"mount -t tmpfs none /tmp && echo mounted; unshare -U true && echo unshared; grep '^Seccomp:' /proc/self/status; echo ok")
	if r.stdout != "Seccomp:\t2\nok\n" {
		t.Errorf("mount or unshare worked, or no filter: stdout %q stderr %q", r.stdout, r.stderr)
	}
}

// compatABIProgram makes 32-bit (i386, int 0x80) or x32 system calls from
// a 64-bit process, the classic way around a filter written for the native
// ABI; "n" makes the same call natively.
const compatABIProgram = `#include <stdio.h>
int main(int argc, char **argv) {
	long r = 0;
	switch (argv[1][0]) {
	case 'i': /* i386 getpid */
		__asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "r8", "r9", "r10", "r11", "memory");
		break;
	case 'x': /* x32 getpid */
		__asm__ volatile ("syscall" : "=a"(r) : "a"(0x40000000L | 39L) : "rcx", "r11", "memory");
		break;
	default: /* native getpid */
		__asm__ volatile ("syscall" : "=a"(r) : "a"(39L) : "rcx", "r11", "memory");
	}
	printf("%ld\n", r);
	return 0;
}
`

func TestContainerSeccompRefusesCompatABIs(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the compat ABIs tested are x86's")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	src, prog := filepath.Join(dir, "compat.c"), filepath.Join(dir, "compat")
	if err := os.WriteFile(src, []byte(compatABIProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-O0", "-o", prog, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc (make deps installs it): %v\n%s", err, out)
	}
	// x32 calls are refused whether or not the kernel has the x32 ABI
	// (CONFIG_X86_X32_ABI): the filter kills the caller before the kernel
	// looks. i386 calls only where the kernel runs them at all.
	abis := []struct{ mode, name string }{{"x", "x32"}}
	if host := run(t, "", prog, "i"); host.code == 0 && !strings.HasPrefix(host.stdout, "-") {
		abis = append(abis, struct{ mode, name string }{"i", "i386"})
	} else {
		t.Logf("not tried: i386 calls, which this kernel does not run (CONFIG_IA32_EMULATION): exit %d", host.code)
	}
	for _, abi := range abis {
		r, _ := sandboxRun(t, &bundle.Spec{ReadPaths: []string{dir}}, prog, abi.mode)
		// The thread that makes the call is killed (SIGSYS, 128+31).
		if r.code != 159 || r.stdout != "" {
			t.Errorf("%s system call in the sandbox: exit %d, stdout %q, stderr %q; want death by SIGSYS (159)", abi.name, r.code, r.stdout, r.stderr)
		}
	}
	r, _ := sandboxRun(t, &bundle.Spec{ReadPaths: []string{dir}}, prog, "n")
	if r.code != 0 || r.stdout == "" || strings.HasPrefix(r.stdout, "-") {
		t.Errorf("native getpid in the sandbox: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// BenchmarkSandboxBundle is the container backend's one-shot path (as
// supervisor.RunOnce takes it): materialize a default-base sandbox, `agentd
// run` /bin/true in it, remove it; against Debian's runc running the same
// kind of bundle (MaterializeTransient, made once) with `runc run`. The two
// alternate, one of each per iteration in an order that flips, so that the
// VM's drift (5-10 % within a minute) falls on both; the metrics are the
// medians, agentd-ms and runc-ms.
func BenchmarkSandboxBundle(b *testing.B) {
	state, root := b.TempDir(), b.TempDir()
	bin := agentdBin(b)
	peer, err := bundle.MaterializeTransient(state, "bench-runc", &bundle.Spec{}, []string{"/bin/true"})
	if err != nil {
		b.Fatal(err)
	}
	defer bundle.Remove(state, "bench-runc")
	oneShot := func(i int) time.Duration {
		start := time.Now()
		id := fmt.Sprintf("bench-%d", i)
		bd, err := bundle.MaterializeTransient(state, id, &bundle.Spec{}, []string{"/bin/true"})
		if err != nil {
			b.Fatal(err)
		}
		if r := run(b, "", bin, "--root", root, "run", "--bundle", bd.Dir, id); r.code != 0 {
			b.Fatalf("agentd run: %d %s", r.code, r.stderr)
		}
		if err := bundle.Remove(state, id); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	runcRun := func(i int) time.Duration {
		start := time.Now()
		if r := run(b, "", "runc", "--root", root, "run", "--bundle", peer.Dir, fmt.Sprintf("bench-runc-%d", i)); r.code != 0 {
			b.Fatalf("runc run: %d %s", r.code, r.stderr)
		}
		return time.Since(start)
	}
	var agentd, runc []time.Duration
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			agentd = append(agentd, oneShot(i))
			runc = append(runc, runcRun(i))
		} else {
			runc = append(runc, runcRun(i))
			agentd = append(agentd, oneShot(i))
		}
	}
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2]) / float64(time.Millisecond)
	}
	b.ReportMetric(median(agentd), "agentd-ms")
	b.ReportMetric(median(runc), "runc-ms")
}
