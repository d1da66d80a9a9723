package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// LoadBundle reads and checks bundle/config.json. Errors name the file, the
// field and what to do; they wrap ErrInvalidBundle. The returned path is the
// bundle's absolute, clean path.
func LoadBundle(bundle string) (*specs.Spec, string, error) {
	if bundle == "" {
		bundle = "."
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, "", fmt.Errorf("%w: bundle %q: %v", ErrInvalidBundle, bundle, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, "", fmt.Errorf("%w: bundle %s is not a directory: pass --bundle DIR pointing at a directory with config.json", ErrInvalidBundle, abs)
	}
	path := filepath.Join(abs, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", fmt.Errorf("%w: %s not found: create one with `agentd spec`", ErrInvalidBundle, path)
		}
		return nil, "", fmt.Errorf("%w: reading %s: %v", ErrInvalidBundle, path, err)
	}
	spec, err := ParseConfig(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if err := checkRootfs(spec, abs); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return spec, abs, nil
}

// ParseConfig decodes an OCI config.json and checks the fields a container
// needs. Errors name the offending field and wrap ErrInvalidBundle.
func ParseConfig(data []byte) (*specs.Spec, error) {
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidBundle, describeJSONError(data, err))
	}
	if err := checkSpec(&spec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidBundle, err)
	}
	return &spec, nil
}

// describeJSONError turns encoding/json's errors into ones that name a field
// or a line and column.
func describeJSONError(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		return fmt.Sprintf("malformed JSON at line %d, column %d: %v", line, col, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Sprintf("field %s: got a JSON %s, want %s", field, typ.Value, typ.Type)
	default:
		return err.Error()
	}
}

func lineCol(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// checkSpec checks what runc checks before it creates anything: the fields
// without which a container cannot start.
func checkSpec(s *specs.Spec) error {
	if s.Version == "" {
		return errors.New(`field ociVersion is missing: set it, e.g. "ociVersion": "` + specs.Version + `"`)
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New(`field root.path is missing: name the rootfs directory, e.g. "root": {"path": "rootfs"}`)
	}
	if s.Linux == nil {
		return errors.New(`field linux is missing: a Linux container needs a "linux" object`)
	}
	return checkProcess(s.Process, "process")
}

// checkProcess checks a process object from config.json or exec --process.
func checkProcess(p *specs.Process, field string) error {
	if p == nil {
		return fmt.Errorf("field %s is missing: a container needs a process to run", field)
	}
	if len(p.Args) == 0 {
		return fmt.Errorf("field %s.args is empty: name the command to run", field)
	}
	if p.Cwd == "" {
		return fmt.Errorf(`field %s.cwd is missing: set an absolute path such as "/"`, field)
	}
	if !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("field %s.cwd %q is not absolute: use an absolute path such as /%s", field, p.Cwd, strings.TrimPrefix(p.Cwd, "./"))
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("field %s.env[%d] %q has no '=': use KEY=VALUE", field, i, e)
		}
	}
	return nil
}

// checkRootfs makes root.path absolute against the bundle and checks that it
// is a directory.
func checkRootfs(s *specs.Spec, bundle string) error {
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
	}
	fi, err := os.Stat(s.Root.Path)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: field root.path: rootfs %s is not a directory", ErrInvalidBundle, s.Root.Path)
	}
	return nil
}
