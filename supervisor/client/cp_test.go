package client

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func tarOf(t *testing.T, entries ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(h.Name))
		}
	}
	tw.Close()
	return &buf
}

func TestExtractTarRenamesTop(t *testing.T) {
	dir := t.TempDir()
	ar := tarOf(t,
		&tar.Header{Name: "src/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "src/a.txt", Typeflag: tar.TypeReg, Mode: 0o644},
		&tar.Header{Name: "src/link", Typeflag: tar.TypeSymlink, Linkname: "a.txt"},
	)
	if err := extractTar(ar, dir, "src", "dst"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "dst", "link"))
	if err != nil || string(got) != "src/a.txt" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// The archive comes from the sandbox: nothing in it may write outside the
// destination.
func TestExtractTarStaysInside(t *testing.T) {
	outside := t.TempDir()
	tests := map[string][]*tar.Header{
		"dotdot":    {{Name: "src/../../escape", Typeflag: tar.TypeReg, Mode: 0o644}},
		"other top": {{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}},
		"symlink then write": {
			{Name: "src", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "src/out", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "src/out/escape", Typeflag: tar.TypeReg, Mode: 0o644},
		},
		"absolute link target": {
			{Name: "src", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "src/hard", Typeflag: tar.TypeLink, Linkname: filepath.Join(outside, "x")},
		},
	}
	os.WriteFile(filepath.Join(outside, "x"), []byte("x"), 0o644)
	for name, hdrs := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := extractTar(tarOf(t, hdrs...), dir, "src", "src"); err == nil {
				t.Error("the hostile archive was accepted")
			}
			if _, err := os.Stat(filepath.Join(outside, "escape")); err == nil {
				t.Fatal("wrote outside the destination")
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
				t.Fatal("wrote beside the destination")
			}
			if _, err := os.Lstat(filepath.Join(dir, "etc")); err == nil {
				t.Fatal("extracted an entry outside the archive's top")
			}
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(outside, "x"), &st); err != nil || st.Nlink != 1 {
				t.Fatalf("a file outside the destination was linked to (links %d, %v)", st.Nlink, err)
			}
		})
	}
}

func TestWriteTarNamesTop(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o600)
	var buf bytes.Buffer
	if err := writeTar(&buf, src, "renamed"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := extractTar(&buf, dir, "renamed", "out"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out", "f")); string(got) != "data" {
		t.Fatalf("got %q", got)
	}
}

func TestSplitSandboxPath(t *testing.T) {
	for in, want := range map[string][2]string{"/a/b": {"/a", "b"}, "/a/b/": {"/a", "b"}, "/x": {"/", "x"}} {
		d, b, err := splitSandboxPath(in)
		if err != nil || d != want[0] || b != want[1] {
			t.Errorf("%s: %s %s %v", in, d, b, err)
		}
	}
	for _, bad := range []string{"rel", "/", ""} {
		if _, _, err := splitSandboxPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
