package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

// record is the persisted part of a sandbox, state.json. Runtime-only data
// (the backend handle, exec sessions) lives in [box].
type record struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	Backend   string    `json:"backend"`
	State     api.State `json:"state"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Execs are the execs running when the record was written; after a
	// crash they are the ones to report as interrupted and to kill.
	Execs       []api.ExecInfo `json:"execs,omitempty"`
	Interrupted []api.ExecInfo `json:"interrupted,omitempty"`
}

// maxInterrupted bounds the interrupted execs kept per sandbox.
const maxInterrupted = 64

// store keeps sandboxes/<id>/{spec.json,state.json} under the state dir.
// Every file is written atomically; ids are validated before they make a
// path.
type store struct {
	dir string // <state dir>/sandboxes
}

func newStore(stateDir string) (*store, error) {
	dir := filepath.Join(stateDir, "sandboxes")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	return &store{dir: dir}, nil
}

func (s *store) path(id string) (string, error) {
	if err := api.ValidateID(id); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, id), nil
}

// The directory sandboxes/<id> belongs to the backends as much as to the
// store (the container backend's bundle.Materialize creates it and refuses
// one that exists), so a sandbox being created is first recorded in a
// journal file beside it, sandboxes/.<id>.creating, and its spec.json and
// state.json are written only once the backend is done. A journal found at
// start-up is a creation the daemon did not finish.

// creation is the content of a journal file.
type creation struct {
	Record record       `json:"record"`
	Spec   *bundle.Spec `json:"spec"`
}

func (s *store) journal(id string) string {
	return filepath.Join(s.dir, "."+id+".creating")
}

// begin records that sandbox rec.ID is being created with spec. It fails
// with ErrExist if the id is in use.
func (s *store) begin(rec *record, spec *bundle.Spec) error {
	dir, err := s.path(rec.ID)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("sandbox %s: %w", rec.ID, api.ErrExist)
	}
	data, err := json.Marshal(creation{Record: *rec, Spec: spec})
	if err != nil {
		return err
	}
	return bundle.WriteFileAtomic(s.journal(rec.ID), data, 0o600)
}

// commit writes the sandbox's spec.json and state.json, creating its
// directory if the backend did not, and drops the journal.
func (s *store) commit(rec *record, spec *bundle.Spec) error {
	dir, err := s.path(rec.ID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating sandbox dir: %w", err)
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	if err := bundle.WriteFileAtomic(filepath.Join(dir, "spec.json"), data, 0o600); err != nil {
		return err
	}
	if err := s.save(rec); err != nil {
		return err
	}
	return s.abort(rec.ID)
}

// abort drops the journal of a creation that failed and was cleaned up.
func (s *store) abort(id string) error {
	if err := os.Remove(s.journal(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(s.dir)
}

// recoverJournals turns every leftover journal into a sandbox directory in
// state Creating, so that recovery reports it (as failed) and rm can clean
// up whatever the backend had built.
func (s *store) recoverJournals() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		id, ok := strings.CutPrefix(e.Name(), ".")
		id, ok2 := strings.CutSuffix(id, ".creating")
		if !ok || !ok2 || api.ValidateID(id) != nil {
			continue
		}
		var c creation
		if err := readJSON(filepath.Join(s.dir, e.Name()), &c); err != nil || c.Record.ID != id || c.Spec == nil {
			// A journal is written atomically, so this is not ours.
			continue
		}
		if _, err := os.Stat(filepath.Join(s.dir, id, "state.json")); err == nil {
			if err := s.abort(id); err != nil {
				return err
			}
			continue
		}
		c.Record.State = api.Creating
		if err := s.commit(&c.Record, c.Spec); err != nil {
			return err
		}
	}
	return nil
}

// save writes rec's state.json, durably.
func (s *store) save(rec *record) error {
	return s.write(rec, bundle.WriteFileAtomic)
}

// saveExecs writes rec's state.json after an exec started or ended: atomic
// but not fsynced, since after a power loss no exec can still be running
// and a daemon crash keeps the page cache. Four fsyncs per exec cost more
// than a short command.
func (s *store) saveExecs(rec *record) error {
	return s.write(rec, bundle.ReplaceFile)
}

func (s *store) write(rec *record, writeFile func(string, []byte, fs.FileMode) error) error {
	dir, err := s.path(rec.ID)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "state.json"), data, 0o600)
}

// remove deletes the sandbox's directory and journal; missing ones are not
// an error. It unmounts whatever is mounted below the directory first and
// never deletes through a mount point ([bundle.Remove]).
func (s *store) remove(id string) error {
	if _, err := s.path(id); err != nil {
		return err
	}
	if err := bundle.Remove(filepath.Dir(s.dir), id); err != nil {
		return err
	}
	return s.abort(id)
}

// loaded is one sandbox read back from disk. err is set when its files are
// unreadable; rec then holds only the id.
type loaded struct {
	rec  record
	spec *bundle.Spec
	err  error
}

// loadAll reads every sandbox directory. Entries that are not valid ids
// (temp files, strays) are skipped.
func (s *store) loadAll() ([]loaded, error) {
	if err := s.recoverJournals(); err != nil {
		return nil, fmt.Errorf("recovering unfinished creations: %w", err)
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.dir, err)
	}
	var out []loaded
	for _, e := range ents {
		if !e.IsDir() || api.ValidateID(e.Name()) != nil {
			continue
		}
		out = append(out, s.load(e.Name()))
	}
	return out, nil
}

func (s *store) load(id string) loaded {
	l := loaded{rec: record{ID: id}}
	dir := filepath.Join(s.dir, id)
	var spec bundle.Spec
	if err := readJSON(filepath.Join(dir, "spec.json"), &spec); err != nil {
		l.err = err
		return l
	}
	l.spec = &spec
	var rec record
	if err := readJSON(filepath.Join(dir, "state.json"), &rec); err != nil {
		l.err = err
		return l
	}
	if rec.ID != id || !rec.State.Valid() {
		l.err = fmt.Errorf("state.json: id %q or state %q is wrong", rec.ID, rec.State)
		return l
	}
	l.rec = rec
	return l
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
