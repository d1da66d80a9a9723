//go:build linux

package native

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The seed's workdir cases (a relative child is allowed; an absolute path,
// a ".." component and a symlink resolving outside the root are refused)
// plus the ones around them.
func TestResolveWorkdir(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	for _, d := range []string{"child", "child/deeper"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"link_out":      outside,         // absolute, outside
		"link_rel_out":  "../..",         // relative, climbing out
		"link_in":       "child/deeper",  // relative, inside
		"link_abs_in":   root + "/child", // absolute, but absolute links are not followed beneath a root
		"child/link_up": "..",            // back to the root itself
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		dir      string
		wantEnd  string // suffix of the resolved path
		wantErr  bool
		contains string
	}{
		{dir: "child", wantEnd: "/child"},
		{dir: ".", wantEnd: filepath.Base(root)},
		{dir: "child/deeper/", wantEnd: "/child/deeper"},
		{dir: "link_in", wantEnd: "/child/deeper"},
		{dir: "child/link_up", wantEnd: filepath.Base(root)},
		{dir: "/tmp", wantErr: true, contains: "absolute workdir"},
		{dir: "../escape", wantErr: true, contains: `".." component`},
		{dir: "child/../../x", wantErr: true, contains: `".." component`},
		{dir: "link_out", wantErr: true, contains: "escapes the sandbox root"},
		{dir: "link_rel_out", wantErr: true, contains: "escapes the sandbox root"},
		{dir: "link_abs_in", wantErr: true, contains: "escapes the sandbox root"},
		{dir: "missing", wantErr: true, contains: "does not exist"},
		{dir: "file", wantErr: true, contains: "not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			f, err := resolveWorkdir(root, tc.dir)
			if tc.wantErr {
				if err == nil {
					f.Close()
					t.Fatalf("resolveWorkdir(%q) succeeded, want an error", tc.dir)
				}
				if !errors.Is(err, ErrInvalidWorkdir) || !strings.Contains(err.Error(), tc.contains) {
					t.Fatalf("err = %v, want ErrInvalidWorkdir saying %q", err, tc.contains)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolveWorkdir(%q): %v", tc.dir, err)
			}
			defer f.Close()
			got, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(got, tc.wantEnd) || !strings.HasPrefix(got, root) {
				t.Errorf("resolved to %q, want a path under %s ending in %q", got, root, tc.wantEnd)
			}
		})
	}
}
