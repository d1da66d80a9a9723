//go:build linux

package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/agentd/agentd/bundle"
)

// Sandbox is a persistent native sandbox: a cgroup with the spec's limits
// and a scratch dir (HOME and TMPDIR of its commands), in which any number
// of commands run, one after the other or at once. Each command gets its
// own child cgroup, so a timeout or a kill ends that command's whole
// process tree and nothing else.
//
// Its methods may be called from several goroutines.
type Sandbox struct {
	id     string
	dir    string
	st     *settings
	report Report
	cg     cgroup
	// oneShot is the sandbox of [Run]: one command, in the sandbox's own
	// cgroup, and no state file.
	oneShot bool

	mu        sync.Mutex
	destroyed bool
}

// Create makes sandbox id from spec. dir is the sandbox's own directory,
// which Create makes and [Sandbox.Destroy] removes (e.g.
// /var/lib/agentd/sandboxes/<id>/native); it must not exist yet, and the
// sandbox user must be able to pass through its parents (mode o+x), since
// the scratch dir lives in it. Create fails, leaving nothing behind, when
// this host cannot enforce what spec asks and spec is not bestEffort.
func Create(id string, spec *bundle.Spec, dir string) (*Sandbox, error) {
	return create(id, spec, dir, false)
}

// create is [Create]; a oneShot sandbox is [Run]'s: it saves no state (it
// is never loaded again) and its cgroup has only the controllers that
// enforce something (no cpu without a CPU limit, no cpuacct).
func create(id string, spec *bundle.Spec, dir string, oneShot bool) (_ *Sandbox, retErr error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	st, err := normalize(spec)
	if err != nil {
		return nil, err
	}
	caps, h := probe()
	rep, err := plan(caps, st)
	if err != nil {
		return nil, err
	}
	if caps.CgroupVersion == 0 {
		// Not even bestEffort runs without a cgroup: it is what kills a
		// command's whole process tree.
		return nil, fmt.Errorf("%w: no usable cgroup hierarchy", ErrUnsupported)
	}
	s := &Sandbox{id: id, dir: filepath.Clean(dir), st: st, report: rep, oneShot: oneShot}
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = s.Destroy()
		}
	}()
	if err := s.checkReachable(); err != nil {
		return nil, err
	}
	s.report.Cgroup = fmt.Sprintf("v%d:%s/%s", caps.CgroupVersion, cgroupParent, id)
	var controllers []string // all usable ones
	if oneShot {
		controllers = neededControllers(st)
	} else if err := s.save(caps.CgroupVersion); err != nil {
		return nil, err
	}
	if s.cg, err = newCgroup(h, id, st, controllers); err != nil {
		return nil, err
	}
	return s, nil
}

// Load reattaches to sandbox id made by [Create] in dir, e.g. after the
// daemon restarted; its cgroup is made again when it is gone (a reboot).
func Load(id, dir string) (*Sandbox, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	s := &Sandbox{id: id, dir: filepath.Clean(dir)}
	version, err := s.load()
	if err != nil {
		return nil, err
	}
	if s.cg, err = loadCgroup(version, id, s.st); err != nil {
		return nil, err
	}
	return s, nil
}

// ID is the sandbox's id.
func (s *Sandbox) ID() string { return s.id }

// Scratch is the sandbox's scratch dir: HOME of its commands, with TMPDIR
// in its tmp subdirectory.
func (s *Sandbox) Scratch() string { return filepath.Join(s.dir, "scratch") }

// Root is the directory workdirs are relative to: the first write path,
// else the scratch dir.
func (s *Sandbox) Root() string { return s.st.root(s.paths()) }

// Report is what the sandbox's commands get, as planned at creation; each
// [Result] carries what was measured for its command.
func (s *Sandbox) Report() Report { return s.report }

func (s *Sandbox) paths() sandboxPaths { return sandboxPaths{Scratch: s.Scratch()} }

func (s *Sandbox) usable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return fmt.Errorf("sandbox %s: %w", s.id, ErrDestroyed)
	}
	return nil
}

// Pause freezes every process of the sandbox.
func (s *Sandbox) Pause() error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := freeze(s.cg, true); err != nil {
		return fmt.Errorf("pausing sandbox %s: %w", s.id, err)
	}
	return nil
}

// Resume thaws a paused sandbox.
func (s *Sandbox) Resume() error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := freeze(s.cg, false); err != nil {
		return fmt.Errorf("resuming sandbox %s: %w", s.id, err)
	}
	return nil
}

// Stats reads the sandbox's resource usage from its cgroup; memory, CPU
// time and pids count every command of the sandbox.
func (s *Sandbox) Stats() (*Stats, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	st, err := s.cg.stats()
	if err != nil {
		return nil, fmt.Errorf("reading stats of sandbox %s: %w", s.id, err)
	}
	return st, nil
}

// KillExec kills what is left of exec execID (its whole process tree) and
// removes its cgroup; the daemon uses it for execs of an earlier run.
func (s *Sandbox) KillExec(execID string) error {
	if err := checkID("exec", execID); err != nil {
		return err
	}
	if err := s.usable(); err != nil {
		return err
	}
	cg, err := s.cg.child(execID)
	if err != nil {
		return err
	}
	return errors.Join(killAll(cg), removeCgroup(cg))
}

// Destroy kills every process of the sandbox, removes its cgroup and its
// directory (scratch dir included). Destroying twice succeeds.
func (s *Sandbox) Destroy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return nil
	}
	var errs []error
	if s.cg != nil {
		errs = append(errs, killAll(s.cg), removeCgroup(s.cg))
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroying sandbox %s: %w", s.id, err)
	}
	s.destroyed = true
	return nil
}

// makeDirs makes dir (0711: passable, not listable) and the scratch dir
// with its tmp, owned by the sandbox user, 0700.
func (s *Sandbox) makeDirs() error {
	if err := os.MkdirAll(filepath.Dir(s.dir), 0o711); err != nil {
		return err
	}
	if err := os.Mkdir(s.dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExist, s.dir)
		}
		return err
	}
	// The caller's umask (077, say) must not make it unpassable.
	if err := os.Chmod(s.dir, 0o711); err != nil {
		_ = os.RemoveAll(s.dir)
		return err
	}
	for _, d := range []string{s.Scratch(), filepath.Join(s.Scratch(), "tmp")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			_ = os.RemoveAll(s.dir)
			return err
		}
		if err := os.Lchown(d, int(s.st.UID), int(s.st.GID)); err != nil {
			_ = os.RemoveAll(s.dir)
			return err
		}
	}
	return nil
}

// persisted is the sandbox's state file, dir/native.json.
type persisted struct {
	ID            string    `json:"id"`
	Settings      *settings `json:"settings"`
	CgroupVersion int       `json:"cgroupVersion"`
	Report        Report    `json:"report"`
	Created       time.Time `json:"created"`
}

func (s *Sandbox) statePath() string { return filepath.Join(s.dir, "native.json") }

func (s *Sandbox) save(cgroupVersion int) error {
	return writeJSONAtomic(s.statePath(), persisted{
		ID: s.id, Settings: s.st, CgroupVersion: cgroupVersion, Report: s.report, Created: time.Now().UTC(),
	})
}

func (s *Sandbox) load() (int, error) {
	var p persisted
	if err := readJSON(s.statePath(), &p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("loading sandbox %s: %w", s.id, ErrNotExist)
		}
		return 0, fmt.Errorf("loading sandbox %s: %w", s.id, err)
	}
	if p.ID != s.id || p.Settings == nil {
		return 0, fmt.Errorf("loading sandbox %s: %s belongs to %q", s.id, s.statePath(), p.ID)
	}
	s.st, s.report = p.Settings, p.Report
	return p.CgroupVersion, nil
}
