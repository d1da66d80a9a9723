//go:build linux

package native

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

func TestRuleAccess(t *testing.T) {
	tests := []struct {
		name  string
		cfg   landlock.Config
		in    landlock.AccessFSSet
		isDir bool
		want  landlock.AccessFSSet
	}{
		{"dir rights kept on a dir", landlock.V7, accessReadExec, true, accessReadExec},
		{"dir rights dropped on a file", landlock.V7, accessReadExec, false, ll.AccessFSReadFile | ll.AccessFSExecute},
		{"write on a file", landlock.V7, accessReadExec | accessWrite, false,
			ll.AccessFSReadFile | ll.AccessFSExecute | ll.AccessFSWriteFile | ll.AccessFSTruncate},
		{"no ioctl-dev before ABI 5", landlock.V4, accessDevice | ll.AccessFSIoctlDev, false, accessDevice},
		{"ioctl-dev from ABI 5", landlock.V5, accessDevice | ll.AccessFSIoctlDev, false, accessDevice | ll.AccessFSIoctlDev},
		{"no refer or truncate with ABI 1", landlock.V1, accessWrite, true, accessWrite &^ (ll.AccessFSRefer | ll.AccessFSTruncate)},
	}
	for _, tc := range tests {
		if got := ruleAccess(tc.cfg, tc.in, tc.isDir); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNetPorts(t *testing.T) {
	lp := landlockPolicy{ConnectTCP: []uint16{443}, ConnectUDP: []uint16{53}}
	for _, tc := range []struct {
		cfg  landlock.Config
		want int
	}{
		{landlock.V3, 0},  // no network rules before ABI 4
		{landlock.V7, 1},  // TCP 443; UDP is not filtered yet
		{landlock.V10, 3}, // TCP 443, UDP bind of port 0, UDP 53
	} {
		if got := netPorts(tc.cfg, lp); len(got) != tc.want {
			t.Errorf("%v: %d port rules %+v, want %d", tc.cfg, len(got), got, tc.want)
		}
	}
}

func TestLandlockRuleset(t *testing.T) {
	if landlockABI() == 0 {
		t.Skip("kernel without Landlock")
	}
	dir := t.TempDir()
	lp := landlockPolicy{
		SystemExec: []string{dir, filepath.Join(dir, "missing-system-dir")},
		Devices:    []string{"/dev/null"},
		Write:      []string{dir},
		ConnectTCP: []uint16{443},
	}
	abi, ruleset, err := landlockRuleset(lp)
	if err != nil {
		t.Fatal(err)
	}
	defer ruleset.Close()
	if abi != min(landlockABI(), landlockLibABI) || ruleset == nil {
		t.Errorf("ABI %d, ruleset %v; want the kernel's ABI and a ruleset", abi, ruleset)
	}
	lp.Write = append(lp.Write, filepath.Join(dir, "missing-write-path"))
	if _, _, err := landlockRuleset(lp); err == nil {
		t.Error("a missing write path must be an error, not skipped")
	}
	lp.MinABI = landlockLibABI + 1
	if _, _, err := landlockRuleset(lp); !errors.Is(err, ErrUnsupported) {
		t.Errorf("an ABI newer than any known: %v, want ErrUnsupported", err)
	}
}
