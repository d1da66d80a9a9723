package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
)

// Decode reads one JSON Spec from r. Unknown fields and anything after the
// document are refused, so that a typo such as "mount" for "mounts" is an
// error rather than a silently unprotected sandbox. Decode does not validate
// the values; call [Spec.Validate] for that.
func Decode(r io.Reader) (*Spec, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty document; give a JSON object such as {\"profile\": \"standard\"}", ErrInvalidSpec)
		}
		return nil, fmt.Errorf("%w: decoding JSON: %w", ErrInvalidSpec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the JSON object; give exactly one object", ErrInvalidSpec)
	}
	return &s, nil
}

// ValidateID checks that id may name a sandbox and so be used as a path
// component: [A-Za-z0-9][A-Za-z0-9_.-]{0,127}.
func ValidateID(id string) error {
	if !validID(id) {
		return fmt.Errorf("%w %q: use 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit", ErrInvalidID, id)
	}
	return nil
}

// Validate checks every field of s and returns all problems found, joined;
// each is a [*FieldError] naming the field and saying how to fix it, and
// matches [ErrInvalidSpec]. Empty fields are valid: they take defaults.
func (s *Spec) Validate() error {
	if s == nil {
		return fmt.Errorf("%w: no spec given", ErrInvalidSpec)
	}
	var v validator
	v.enums(s)
	v.paths(s)
	v.limits(s.Limits)
	v.env(s.Env)
	v.hostname(s.Hostname)
	return errors.Join(v.errs...)
}

// validator collects FieldErrors.
type validator struct {
	errs []error
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) enums(s *Spec) {
	if _, ok := profiles[s.Profile]; s.Profile != "" && !ok {
		v.add("profile", "%q is unknown; use one of %s", s.Profile, quoteList(ProfileNames()))
	}
	switch s.Backend {
	case "", BackendContainer, BackendNative:
	default:
		v.add("backend", "%q is unknown; use %q or %q", s.Backend, BackendContainer, BackendNative)
	}
	switch s.Network.Mode {
	case "", NetworkNone, NetworkHost:
	default:
		v.add("network.mode", "%q is unknown; use %q (no network) or %q (the host's network)", s.Network.Mode, NetworkNone, NetworkHost)
	}
}

// reservedTargets are mounted by the sandbox itself; a user mount there
// would either be hidden or hide what the kernel interfaces expose.
var reservedTargets = []string{"/proc", "/sys", "/dev"}

func (v *validator) paths(s *Spec) {
	if s.Base != nil {
		switch r := s.Base.Rootfs; {
		case !v.absolute("base.rootfs", r):
		case path.Clean(r) == "/":
			v.add("base.rootfs", "\"/\" is the host's own root and would expose /root, /home and /etc/shadow; omit base to get the host's system directories read-only")
		case strings.ContainsAny(r, ",:\\"):
			v.add("base.rootfs", "%q contains ',', ':' or '\\', which overlayfs cannot take in a lower directory; move or link the rootfs to a path without them", r)
		}
	}
	if s.Workdir != "" {
		v.absolute("workdir", s.Workdir)
	}
	seen := map[string]string{} // clean target -> field that mounts it
	target := func(field, p string) {
		if !v.absolute(field, p) || !v.targetAllowed(field, p) {
			return
		}
		clean := path.Clean(p)
		if first, dup := seen[clean]; dup {
			v.add(field, "%q is already mounted by %s; give each target once", clean, first)
			return
		}
		seen[clean] = field
	}
	for i, p := range s.ReadPaths {
		target(fmt.Sprintf("readPaths[%d]", i), p)
	}
	for i, p := range s.WritePaths {
		target(fmt.Sprintf("writePaths[%d]", i), p)
	}
	for i, m := range s.Mounts {
		v.absolute(fmt.Sprintf("mounts[%d].source", i), m.Source)
		target(fmt.Sprintf("mounts[%d].target", i), m.Target)
	}
}

// absolute reports whether p is a usable absolute path, adding an error if
// it is not.
func (v *validator) absolute(field, p string) bool {
	switch {
	case p == "":
		v.add(field, "is empty; give an absolute path such as /src")
	case strings.ContainsRune(p, 0):
		v.add(field, "%q contains a NUL byte; remove it", p)
	case !path.IsAbs(p):
		v.add(field, "%q is relative; use an absolute path such as %s", p, path.Join("/", p))
	default:
		return true
	}
	return false
}

// targetAllowed reports whether the absolute path p may be a mount target.
func (v *validator) targetAllowed(field, p string) bool {
	clean := path.Clean(p)
	if clean == "/" {
		v.add(field, "%q would cover the sandbox's whole file system; mount at a directory such as /mnt", p)
		return false
	}
	for _, r := range reservedTargets {
		if clean == r || strings.HasPrefix(clean, r+"/") {
			v.add(field, "%q is inside %s, which the sandbox mounts itself; choose a target outside /proc, /sys and /dev", p, r)
			return false
		}
	}
	return true
}

// minCpus is the smallest CPU share: a 1 ms quota per 100 ms period, the
// kernel's minimum quota.
const minCpus = 0.01

func (v *validator) limits(l Limits) {
	switch {
	case l.MemoryBytes < 0:
		v.add("limits.memoryBytes", "%d is negative; give bytes such as 536870912 (512 MiB), or 0 for the profile's default", l.MemoryBytes)
	case l.MemoryBytes > 0 && l.MemoryBytes < MinMemoryBytes:
		v.add("limits.memoryBytes", "%d bytes is below the minimum of 4 MiB (%d); raise it, or use 0 for the profile's default", l.MemoryBytes, MinMemoryBytes)
	}
	switch {
	case math.IsNaN(l.Cpus) || math.IsInf(l.Cpus, 0):
		v.add("limits.cpus", "%v is not a number of CPUs; give e.g. 1.5, or 0 for the profile's default", l.Cpus)
	case l.Cpus < 0:
		v.add("limits.cpus", "%v is negative; give e.g. 1.5, or 0 for the profile's default", l.Cpus)
	case l.Cpus > 0 && l.Cpus < minCpus:
		v.add("limits.cpus", "%v is below the minimum of %v; raise it, or use 0 for the profile's default", l.Cpus, minCpus)
	}
	if l.Pids < 0 {
		v.add("limits.pids", "%d is negative; give a process count such as 256, or 0 for the profile's default", l.Pids)
	}
	if l.TimeoutMs < 0 {
		v.add("limits.timeoutMs", "%d is negative; give milliseconds such as 600000, or 0 for the profile's default", l.TimeoutMs)
	}
}

func (v *validator) env(env map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		val := env[k]
		field := fmt.Sprintf("env[%q]", k)
		switch {
		case k == "":
			v.add(field, "the variable name is empty; give it a name or remove it")
		case strings.ContainsRune(k, '='):
			name, rest, _ := strings.Cut(k, "=")
			v.add(field, "the name contains '='; put what follows it in the value, e.g. {%q: %q}", name, rest)
		case strings.ContainsRune(k, 0) || strings.ContainsRune(val, 0):
			v.add(field, "contains a NUL byte, which no process environment can hold; remove it")
		}
	}
}

// maxHostname is the kernel's limit (HOST_NAME_MAX).
const maxHostname = 64

func (v *validator) hostname(h string) {
	if h != "" && (len(h) > maxHostname || !validHostname(h)) {
		v.add("hostname", "%q is not a valid host name; use up to %d letters, digits, '-' and '.', e.g. %q", h, maxHostname, DefaultHostname)
	}
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// validID: [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, checked by hand because every
// binary that links this package would otherwise compile the regexp, whose
// {0,127} costs a millisecond, at start-up.
func validID(id string) bool {
	if id == "" || len(id) > 128 || !isAlnum(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validHostname: dot-separated labels of 1-63 letters, digits and '-',
// neither starting nor ending with '-'.
func validHostname(h string) bool {
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
