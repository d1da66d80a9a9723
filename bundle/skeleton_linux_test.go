package bundle

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The skeleton's key changes with every change of what it copies from the
// host's etc, even one that keeps the size and the modification time, and
// stays the same while nothing changes.
func TestSkeletonKeyFollowsHostEtc(t *testing.T) {
	etc := t.TempDir()
	for _, name := range hostEtcFiles {
		p := filepath.Join(etc, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte("first "+name+"\n"), 0o644))
	}
	must(t, os.Mkdir(filepath.Join(etc, "alternatives"), 0o755))
	key := func() string {
		t.Helper()
		k, _, err := skeletonKey(etc, "sandbox")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key()
	if k := key(); k != k0 {
		t.Fatalf("key changed with nothing changed: %s, then %s", k0, k)
	}
	if k, _, _ := skeletonKey(etc, "other"); k == k0 {
		t.Error("key is the same for another hostname")
	}
	resolv := filepath.Join(etc, "resolv.conf")
	fi, err := os.Stat(resolv)
	must(t, err)
	steps := []struct {
		what   string
		change func()
	}{
		{"resolv.conf rewritten in place, same size, mtime set back", func() {
			// Only ctime tells; where the kernel keeps it at clock-tick
			// granularity (before Linux 6.13) rewrite until it moves.
			var before, after syscall.Stat_t
			must(t, syscall.Stat(resolv, &before))
			for i := 0; i == 0 || i < 1e6 && after.Ctim == before.Ctim; i++ {
				must(t, os.WriteFile(resolv, []byte("other resolv.conf\n"), 0o644))
				must(t, os.Chtimes(resolv, fi.ModTime(), fi.ModTime()))
				must(t, syscall.Stat(resolv, &after))
			}
			if after.Size != before.Size || after.Mtim != before.Mtim {
				t.Fatalf("size or mtime changed: the step tests nothing")
			}
		}},
		{"resolv.conf replaced by rename", func() {
			tmp := resolv + ".new"
			must(t, os.WriteFile(tmp, []byte("other resolv.conf\n"), 0o644))
			must(t, os.Chtimes(tmp, fi.ModTime(), fi.ModTime()))
			must(t, os.Rename(tmp, resolv))
		}},
		{"resolv.conf made a link to another file", func() {
			target := filepath.Join(etc, "resolv.target")
			must(t, os.WriteFile(target, []byte("other resolv.conf\n"), 0o644))
			must(t, os.Remove(resolv))
			must(t, os.Symlink("resolv.target", resolv))
		}},
		{"the link's target rewritten", func() {
			must(t, os.WriteFile(filepath.Join(etc, "resolv.target"), []byte("third resolv.conf\n"), 0o644))
		}},
		{"the CA bundle removed", func() {
			must(t, os.Remove(filepath.Join(etc, "ssl/certs/ca-certificates.crt")))
		}},
		{"a link added to alternatives", func() {
			must(t, os.Symlink("/usr/bin/true", filepath.Join(etc, "alternatives", "x")))
		}},
	}
	prev := k0
	for _, s := range steps {
		s.change()
		k := key()
		if k == prev {
			t.Errorf("%s: key unchanged", s.what)
		}
		prev = k
	}
}
