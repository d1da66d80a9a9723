//go:build integration

// Package integration holds agentd's end-to-end tests. They need root and run
// the real binary (AGENTD_BIN, built by `make integration`) or the packages
// in-process; the test binary re-executes itself for libcontainer's init and
// for the native helper, so TestMain dispatches those first.
package integration

import (
	"fmt"
	"os"
	"testing"

	"github.com/agentd/agentd/native"
	agentdruntime "github.com/agentd/agentd/runtime"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			agentdruntime.Init() // never returns
		case "native-exec":
			native.HelperMain() // never returns
		case "seccomp-exec":
			seccompExec(os.Args[2:]) // never returns
		}
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "integration tests need root: skipping all")
		os.Exit(0)
	}
	code := m.Run()
	removeBusyboxRootfs()
	os.Exit(code)
}
