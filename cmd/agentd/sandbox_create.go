package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

var sandboxCreateCommand = &cli.Command{
	Name:         "create",
	Usage:        "create a sandbox and print its id",
	ArgsUsage:    " ",
	Flags:        append(sandboxSpecFlags(), jsonFlag),
	OnUsageError: sandboxUsageError,
	Action: sandboxAction(func(c *cli.Context) error {
		if err := sandboxArgs(c, 0, 0); err != nil {
			return err
		}
		req, err := createRequestFromFlags(c)
		if err != nil {
			return err
		}
		cl, err := sandboxClient(c)
		if err != nil {
			return err
		}
		info, err := cl.Create(c.Context, req)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return writeJSON(c, info)
		}
		_, err = fmt.Fprintln(c.App.Writer, info.ID)
		return err
	}),
}

// sandboxSpecFlags are the flags that make a Spec, shared by create and run;
// each maps to one Spec field.
func sandboxSpecFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backend", Usage: "container or native (default container)"},
		&cli.StringFlag{Name: "profile", Usage: "minimal, standard or full (default standard)"},
		&cli.StringFlag{Name: "base", Usage: "a rootfs `DIR` as the read-only base layer (container)"},
		&cli.StringSliceFlag{Name: "ro", Usage: "host `PATH` the sandbox may read (repeatable)"},
		&cli.StringSliceFlag{Name: "rw", Usage: "host `PATH` the sandbox may read and write (repeatable)"},
		&cli.StringSliceFlag{Name: "mount", Usage: "bind mount `SRC:DST[:ro]` (repeatable, container)"},
		&cli.StringFlag{Name: "workdir", Usage: "working `DIR` of commands"},
		&cli.StringFlag{Name: "network", Usage: "none or host (default none)"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit `SIZE`, e.g. 512m, 2g"},
		&cli.Float64Flag{Name: "cpus", Usage: "CPU limit `N`, e.g. 1.5"},
		&cli.Int64Flag{Name: "pids", Usage: "process limit `N`"},
		&cli.StringFlag{Name: "timeout", Usage: "default timeout `DUR` of each command, e.g. 30s, 10m"},
		&cli.StringSliceFlag{Name: "env", Usage: "environment `K=V` (repeatable)"},
		&cli.StringFlag{Name: "name", Usage: "a unique `NAME` to use instead of the id"},
		&cli.StringFlag{Name: "spec", Usage: "read the spec from `FILE` (- for stdin); flags override it"},
	}
}

// createRequestFromFlags builds the create request: the --spec document if
// given, then every flag that was set on top of it.
func createRequestFromFlags(c *cli.Context) (*api.CreateRequest, error) {
	spec := &bundle.Spec{}
	if f := c.String("spec"); f != "" {
		var err error
		if spec, err = readSpec(f, c.App.Reader); err != nil {
			return nil, err
		}
	}
	if err := applySpecFlags(c, spec); err != nil {
		return nil, err
	}
	return &api.CreateRequest{Name: c.String("name"), Spec: *spec}, nil
}

func readSpec(path string, stdin io.Reader) (*bundle.Spec, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--spec: %w", err)
		}
		defer f.Close()
		r = f
	}
	spec, err := bundle.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("--spec %s: %w", path, err)
	}
	return spec, nil
}

// applySpecFlags sets the Spec fields of the flags given on the command line.
func applySpecFlags(c *cli.Context, s *bundle.Spec) error {
	setString := map[string]*string{"backend": &s.Backend, "profile": &s.Profile,
		"workdir": &s.Workdir, "network": &s.Network.Mode}
	for name, dst := range setString {
		if c.IsSet(name) {
			*dst = c.String(name)
		}
	}
	if c.IsSet("base") {
		s.Base = &bundle.Base{Rootfs: c.String("base")}
	}
	s.ReadPaths = append(s.ReadPaths, c.StringSlice("ro")...)
	s.WritePaths = append(s.WritePaths, c.StringSlice("rw")...)
	for _, m := range c.StringSlice("mount") {
		mnt, err := parseMount(m)
		if err != nil {
			return err
		}
		s.Mounts = append(s.Mounts, mnt)
	}
	if c.IsSet("memory") {
		n, err := parseSize(c.String("memory"))
		if err != nil {
			return fmt.Errorf("--memory: %w", err)
		}
		s.Limits.MemoryBytes = n
	}
	if c.IsSet("cpus") {
		s.Limits.Cpus = c.Float64("cpus")
	}
	if c.IsSet("pids") {
		s.Limits.Pids = c.Int64("pids")
	}
	if c.IsSet("timeout") {
		d, err := parseTimeout(c.String("timeout"))
		if err != nil {
			return err
		}
		s.Limits.TimeoutMs = d.Milliseconds()
	}
	env, err := parseEnv(c.StringSlice("env"))
	if err != nil {
		return err
	}
	if len(env) > 0 && s.Env == nil {
		s.Env = map[string]string{}
	}
	for k, v := range env {
		s.Env[k] = v
	}
	return nil
}

// parseMount parses SRC:DST[:ro].
func parseMount(v string) (bundle.Mount, error) {
	parts := strings.Split(v, ":")
	m := bundle.Mount{}
	switch {
	case len(parts) == 2:
	case len(parts) == 3 && (parts[2] == "ro" || parts[2] == "rw"):
		m.Readonly = parts[2] == "ro"
	default:
		return m, fmt.Errorf("--mount %q: use SRC:DST or SRC:DST:ro", v)
	}
	if parts[0] == "" || parts[1] == "" {
		return m, fmt.Errorf("--mount %q: source and target must not be empty", v)
	}
	m.Source, m.Target = parts[0], parts[1]
	return m, nil
}

// parseSize parses a byte count with an optional binary suffix: 512m, 2g.
func parseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "b"), "i")
	mult := int64(1)
	if n := len(s); n > 0 {
		if i := strings.IndexByte("kmgt", s[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			s = s[:n-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("%q is not a size; use e.g. 512m, 2g or a byte count", v)
	}
	return int64(f * float64(mult)), nil
}

// parseTimeout parses a Go duration (30s, 5m) or a number of seconds.
func parseTimeout(v string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--timeout %q: use a duration such as 30s or 10m", v)
	}
	return d, nil
}

// parseEnv parses K=V pairs.
func parseEnv(kvs []string) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: use KEY=VALUE", kv)
		}
		env[k] = v
	}
	return env, nil
}
