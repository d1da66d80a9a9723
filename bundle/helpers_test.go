package bundle

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/validate"
)

// schemaTransport serves the runtime-spec JSON schema that runtime-tools'
// validator fetches from GitHub out of the module cache, so the check runs
// offline and against exactly the runtime-spec version in go.mod.
type schemaTransport struct {
	dir  string // the schema directory of the runtime-spec module
	next http.RoundTripper
}

func (s schemaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	prefix := "/opencontainers/runtime-spec/v" + specs.Version + "/schema/"
	if r.URL.Host != "raw.githubusercontent.com" || !strings.HasPrefix(r.URL.Path, prefix) {
		return s.next.RoundTrip(r)
	}
	name := strings.TrimPrefix(r.URL.Path, prefix)
	f, err := os.Open(filepath.Join(s.dir, filepath.Base(name)))
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: f, Request: r, Header: http.Header{}}, nil
}

var (
	schemaOnce sync.Once
	schemaErr  error
)

// useLocalSchema routes the validator's schema downloads to the module cache.
func useLocalSchema(t *testing.T) {
	t.Helper()
	schemaOnce.Do(func() {
		dir, err := runtimeSpecDir()
		if err != nil {
			schemaErr = fmt.Errorf("locating the runtime-spec module: %w", err)
			return
		}
		http.DefaultTransport = schemaTransport{dir: filepath.Join(dir, "schema"), next: http.DefaultTransport}
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
}

// runtimeSpecDir finds the runtime-spec module of go.mod in the module
// cache, asking the go command from this package's source directory.
func runtimeSpecDir() (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("no caller information")
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/opencontainers/runtime-spec")
	cmd.Dir = filepath.Dir(self)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go list: the module is not in the module cache")
	}
	return dir, nil
}

// checkRuntimeTools runs runtime-tools' full validation of conf as the
// config.json of bundleDir, whose rootfs directory must exist.
func checkRuntimeTools(t *testing.T, conf *specs.Spec, bundleDir string) {
	t.Helper()
	useLocalSchema(t)
	v, err := validate.NewValidator(conf, bundleDir, true, "linux")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckAll(); err != nil {
		t.Errorf("runtime-tools validation failed:\n%v", err)
	}
}

// emptyBundle returns a bundle directory with an empty rootfs.
func emptyBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, DefaultRootfs), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
