package native

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Environment defaults. A command sees exactly the spec's environment, the
// exec's extra variables and these defaults for what neither sets; never the
// environment of agentd itself.
const (
	defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	defaultLang = "C.UTF-8"
	// defaultTerm is "dumb": commands get no terminal, so they should not
	// colour or redraw their output.
	defaultTerm = "dumb"
)

// checkEnv refuses variable names the kernel or a shell would misread.
func checkEnv(env map[string]string) error {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("%w: env: bad variable name %q (no '=' or NUL, not empty)", ErrInvalidSpec, k)
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("%w: env: value of %s contains a NUL byte", ErrInvalidSpec, k)
		}
	}
	return nil
}

// buildEnv returns the command's environment, sorted: the defaults (PATH,
// HOME and TMPDIR in the scratch dir, LANG, TERM), overridden by specEnv,
// overridden by extra.
func buildEnv(specEnv, extra map[string]string, scratch string) ([]string, error) {
	if err := checkEnv(specEnv); err != nil {
		return nil, err
	}
	if err := checkEnv(extra); err != nil {
		return nil, err
	}
	env := map[string]string{
		"PATH":   defaultPath,
		"HOME":   scratch,
		"TMPDIR": filepath.Join(scratch, "tmp"),
		"LANG":   defaultLang,
		"TERM":   defaultTerm,
	}
	for _, m := range []map[string]string{specEnv, extra} {
		for k, v := range m {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}

// lookupEnv returns the value of key in env (KEY=VALUE entries).
func lookupEnv(env []string, key string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
