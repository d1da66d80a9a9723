//go:build linux

package native

import (
	"errors"
	"os"
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

func TestLandlockRules(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lp := landlockPolicy{
		SystemExec: []string{dir, filepath.Join(dir, "missing-system-dir")},
		SystemRead: []string{file},
		Devices:    []string{"/dev/null"},
		TTYs:       []string{"/dev/tty"},
		Read:       []string{file},
		Write:      []string{dir},
		ConnectTCP: []uint16{443},
		ConnectUDP: []uint16{53},
	}
	count := func(cfg landlock.Config) (fs, net int) {
		rules, err := landlockRules(cfg, lp)
		if err != nil {
			t.Fatalf("landlockRules(%v): %v", cfg, err)
		}
		for _, r := range rules {
			switch r.(type) {
			case landlock.NetRule:
				net++
			case landlock.FSRule:
				fs++
			}
		}
		return fs, net
	}
	// The missing system dir is skipped; each other path is one rule.
	if fs, net := count(landlock.V3); fs != 6 || net != 0 {
		t.Errorf("ABI 3: %d fs, %d net rules; want 6, 0", fs, net)
	}
	if fs, net := count(landlock.V7); fs != 6 || net != 1 {
		t.Errorf("ABI 7: %d fs, %d net rules; want 6, 1 (TCP 443, no UDP yet)", fs, net)
	}
	if _, net := count(landlock.V10); net != 3 {
		t.Errorf("ABI 10: %d net rules; want 3 (TCP 443, UDP bind 0, UDP 53)", net)
	}
	lp.Write = append(lp.Write, filepath.Join(dir, "missing-write-path"))
	if _, err := landlockRules(landlock.V7, lp); err == nil {
		t.Error("a missing write path must be an error, not skipped")
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
