package native

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestBuildEnv(t *testing.T) {
	t.Setenv("AGENTD_TEST_SECRET", "caller-secret")
	got, err := buildEnv(
		map[string]string{"FOO": "spec", "LANG": "en_US.UTF-8", "SHARED": "spec"},
		map[string]string{"BAR": "extra", "SHARED": "extra"},
		"/state/sb/scratch")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"BAR=extra", "FOO=spec", "HOME=/state/sb/scratch", "LANG=en_US.UTF-8",
		"PATH=" + defaultPath, "SHARED=extra", "TERM=dumb", "TMPDIR=/state/sb/scratch/tmp",
	}
	if !slices.Equal(got, want) {
		t.Errorf("buildEnv =\n%q\nwant\n%q", got, want)
	}
	for _, kv := range got {
		if strings.Contains(kv, "AGENTD_TEST_SECRET") || strings.Contains(kv, "caller-secret") {
			t.Errorf("the caller's environment leaked: %q", kv)
		}
	}
}

func TestBuildEnvDefaultsOnly(t *testing.T) {
	got, err := buildEnv(nil, nil, "/s")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"HOME=/s", "LANG=C.UTF-8", "PATH=" + defaultPath, "TERM=dumb", "TMPDIR=/s/tmp"}
	if !slices.Equal(got, want) {
		t.Errorf("buildEnv = %q, want %q", got, want)
	}
}

func TestBuildEnvRefusesBadNames(t *testing.T) {
	for _, env := range []map[string]string{{"": "x"}, {"A=B": "x"}, {"A\x00": "x"}, {"A": "x\x00y"}} {
		if _, err := buildEnv(env, nil, "/s"); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("spec env %q: err = %v, want ErrInvalidSpec", env, err)
		}
		if _, err := buildEnv(nil, env, "/s"); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("extra env %q: err = %v, want ErrInvalidSpec", env, err)
		}
	}
}

func TestLookupEnv(t *testing.T) {
	env := []string{"A=1", "PATH=/x:/y", "B=a=b"}
	if v, ok := lookupEnv(env, "PATH"); !ok || v != "/x:/y" {
		t.Errorf("PATH = %q %v", v, ok)
	}
	if v, _ := lookupEnv(env, "B"); v != "a=b" {
		t.Errorf("B = %q", v)
	}
	if _, ok := lookupEnv(env, "C"); ok {
		t.Error("C found")
	}
}
