//go:build linux && seccomp

package native

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSeccompFilterBuilds(t *testing.T) {
	for _, sp := range []seccompPolicy{{DenyInet: false}, {DenyInet: true}} {
		f, err := newSeccompFilter(sp)
		if err != nil {
			t.Fatalf("%+v: %v", sp, err)
		}
		out, err := os.Create(filepath.Join(t.TempDir(), "filter.pfc"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.ExportPFC(out); err != nil {
			t.Fatal(err)
		}
		f.Release()
		out.Close()
		data, err := os.ReadFile(out.Name())
		if err != nil {
			t.Fatal(err)
		}
		pfc := string(data)
		for _, name := range []string{"ptrace", "mount", "unshare", "setns", "bpf", "io_uring_setup", "keyctl", "clone3", "clone", "socket", "ioctl"} {
			if !strings.Contains(pfc, "# filter for syscall \""+name+"\"") {
				t.Errorf("%+v: no rule for %s", sp, name)
			}
		}
		// network "none" adds the AF_UNIX (1) check on socket's family.
		if got := strings.Contains(pfc, "if ($a0.lo32 == 1)"); got != sp.DenyInet {
			t.Errorf("%+v: socket family check present = %v", sp, got)
		}
	}
}

func TestSeccompProgram(t *testing.T) {
	none, err := seccompProgram(seccompPolicy{DenyInet: true})
	if err != nil {
		t.Fatal(err)
	}
	host, err := seccompProgram(seccompPolicy{DenyInet: false})
	if err != nil {
		t.Fatal(err)
	}
	for _, bpf := range [][]byte{none, host} {
		if len(bpf) == 0 || len(bpf)%8 != 0 {
			t.Errorf("a BPF program is a whole number of 8-byte instructions, got %d bytes", len(bpf))
		}
	}
	// The socket family checks differ: AF_UNIX only for none, the
	// internet and netlink for host (TestNativeTCPToHostListener tries them).
	if bytes.Equal(none, host) {
		t.Error("network none and host got the same filter")
	}
	again, _ := seccompProgram(seccompPolicy{DenyInet: true})
	if &again[0] != &none[0] {
		t.Error("the program is built again for each command")
	}
}
