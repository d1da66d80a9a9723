package runtime

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// poststartFile keeps a container's poststart hooks between create and
// start. agentd runs them itself rather than through libcontainer, which
// hands them a state whose status is still "created"; the OCI spec has
// them run once the process is running, and a failure only warns.
const poststartFile = "agentd-poststart.json"

// takePoststart removes the poststart hooks from a libcontainer config.
func takePoststart(config *configs.Config) {
	delete(config.Hooks, configs.Poststart)
}

func savePoststart(dir string, hooks []specs.Hook) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(hooks)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, poststartFile), data, 0o600)
}

// runPoststart runs the saved poststart hooks of c with its running state.
func (r *Runtime) runPoststart(c *libcontainer.Container) {
	data, err := os.ReadFile(filepath.Join(r.stateDir(c.ID()), poststartFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			logrus.Warnf("poststart hooks of %s: %v", c.ID(), err)
		}
		return
	}
	var hooks []specs.Hook
	if err := json.Unmarshal(data, &hooks); err != nil {
		logrus.Warnf("poststart hooks of %s: %v", c.ID(), err)
		return
	}
	st, err := c.OCIState()
	if err != nil {
		logrus.Warnf("poststart hooks of %s: %v", c.ID(), err)
		return
	}
	st.Status = specs.StateRunning
	for i, h := range hooks {
		cmd := &configs.Command{Path: h.Path, Args: h.Args, Env: h.Env}
		if h.Timeout != nil {
			d := time.Duration(*h.Timeout) * time.Second
			cmd.Timeout = &d
		}
		if err := configs.NewCommandHook(cmd).Run(st); err != nil {
			logrus.Warnf("poststart hook #%d of %s failed: %v", i, c.ID(), err)
		}
	}
}
