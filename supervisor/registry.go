package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

// Supervisor is the sandbox registry: it owns every sandbox of one state
// dir, moves each through the lifecycle table in state.go, persists it, and
// publishes every change as an [Event]. Its methods are what the API server
// calls; they are safe for concurrent use.
type Supervisor struct {
	backends map[string]Backend
	store    *store
	events   *broker
	log      *slog.Logger

	mu    sync.Mutex      // guards boxes
	boxes map[string]*box // by id
}

// box is one sandbox in memory.
type box struct {
	mu    sync.Mutex // guards every field below; held across short backend calls
	rec   record
	spec  *bundle.Spec
	sb    Sandbox // nil when the backend could not load it
	execs map[string]*session
}

// New returns a Supervisor over stateDir with the given backends. Call
// [Supervisor.Recover] before serving to load the sandboxes already there.
func New(stateDir string, backends []Backend, log *slog.Logger) (*Supervisor, error) {
	st, err := newStore(stateDir)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{
		backends: make(map[string]Backend),
		store:    st,
		events:   newBroker(),
		log:      log,
		boxes:    make(map[string]*box),
	}
	for _, b := range backends {
		s.backends[b.Name()] = b
	}
	return s, nil
}

// Backends lists the names of the configured backends, sorted.
func (s *Supervisor) Backends() []string {
	return slices.Sorted(maps.Keys(s.backends))
}

// Subscribe returns every event published from now on; call the function to
// stop. The channel is closed when the subscriber falls too far behind.
func (s *Supervisor) Subscribe() (<-chan api.Event, func()) {
	return s.events.subscribe()
}

// Probe asks every backend what this host enforces.
func (s *Supervisor) Probe(ctx context.Context) []api.Capabilities {
	var out []api.Capabilities
	for _, name := range s.Backends() {
		c, err := s.backends[name].Probe(ctx)
		if err != nil {
			c = api.Capabilities{Backend: name, Reason: err.Error()}
		}
		out = append(out, c)
	}
	return out
}

// Create validates req's spec (after filling in its defaults), records the
// sandbox as creating, and has the backend build it. On failure nothing is
// left: no directory, no state entry.
func (s *Supervisor) Create(ctx context.Context, req *api.CreateRequest) (*api.SandboxInfo, error) {
	spec := req.Spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalidArgument, err)
	}
	be, ok := s.backends[spec.Backend]
	if !ok {
		return nil, fmt.Errorf("%w: backend %q is not available (this daemon has: %v)",
			api.ErrInvalidArgument, spec.Backend, s.Backends())
	}
	return s.build(ctx, req.Name, spec, func(id string) (Sandbox, error) {
		// Creation runs to its end even if the client goes away, so that
		// it either finishes or cleans up after itself.
		return be.Create(context.WithoutCancel(ctx), id, spec)
	})
}

// build registers a new sandbox named name with spec, has construct build it
// under its new id and records it as running. On failure nothing is left:
// no directory, no state entry.
func (s *Supervisor) build(ctx context.Context, name string, spec *bundle.Spec, construct func(id string) (Sandbox, error)) (*api.SandboxInfo, error) {
	b, err := s.reserve(name, spec)
	if err != nil {
		return nil, err
	}
	id := b.rec.ID
	if err := s.store.begin(&b.rec, spec); err != nil {
		s.forget(id)
		return nil, err
	}
	s.publish(api.Event{Type: api.EventState, Sandbox: id, To: api.Creating})
	sb, err := construct(id)
	if err != nil {
		s.publish(api.Event{Type: api.EventState, Sandbox: id, From: api.Creating, To: api.Failed, Error: err.Error()})
		if rmErr := s.store.abort(id); rmErr != nil {
			s.log.Error("removing failed sandbox", "id", id, "err", rmErr)
		}
		s.forget(id)
		s.publish(api.Event{Type: api.EventRemoved, Sandbox: id})
		return nil, fmt.Errorf("creating sandbox: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sb = sb
	to, _ := next(api.Creating, OpCreated)
	b.rec.State, b.rec.UpdatedAt = to, time.Now().UTC()
	if err := s.store.commit(&b.rec, spec); err != nil {
		// Without its state on disk the sandbox would be lost at the
		// next restart: undo it.
		_ = sb.Destroy(context.WithoutCancel(ctx))
		_ = s.store.remove(id)
		s.forget(id)
		s.publish(api.Event{Type: api.EventRemoved, Sandbox: id})
		return nil, fmt.Errorf("saving sandbox %s: %w", id, err)
	}
	s.publish(api.Event{Type: api.EventState, Sandbox: id, From: api.Creating, To: to})
	return b.info(), nil
}

// reserve registers a new box in state Creating under a fresh id, refusing
// a name that is taken.
func (s *Supervisor) reserve(name string, spec *bundle.Spec) (*box, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != "" {
		if _, err := s.lookupLocked(name); err == nil {
			return nil, fmt.Errorf("name %q: %w", name, api.ErrExist)
		}
	}
	id := newID()
	for s.boxes[id] != nil {
		id = newID()
	}
	now := time.Now().UTC()
	b := &box{
		rec: record{ID: id, Name: name, Backend: spec.Backend, State: api.Creating,
			CreatedAt: now, UpdatedAt: now},
		spec:  spec,
		execs: make(map[string]*session),
	}
	s.boxes[id] = b
	return b, nil
}

func (s *Supervisor) forget(id string) {
	s.mu.Lock()
	delete(s.boxes, id)
	s.mu.Unlock()
}

// lookup finds a sandbox by id or, failing that, by name.
func (s *Supervisor) lookup(ref string) (*box, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(ref)
}

// lookupLocked is lookup with s.mu held.
func (s *Supervisor) lookupLocked(ref string) (*box, error) {
	if err := api.ValidateID(ref); err != nil {
		return nil, err
	}
	if b, ok := s.boxes[ref]; ok {
		return b, nil
	}
	for _, b := range s.boxes {
		if b.rec.Name == ref {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", api.ErrNotExist, ref)
}

// List describes every sandbox, oldest first.
func (s *Supervisor) List() []api.SandboxInfo {
	s.mu.Lock()
	boxes := slices.Collect(maps.Values(s.boxes))
	s.mu.Unlock()
	out := make([]api.SandboxInfo, 0, len(boxes))
	for _, b := range boxes {
		b.mu.Lock()
		info := b.info()
		b.mu.Unlock()
		info.Spec = nil
		out = append(out, *info)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Inspect describes one sandbox.
func (s *Supervisor) Inspect(ref string) (*api.SandboxInfo, error) {
	b, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.info(), nil
}

// Pause freezes a running sandbox.
func (s *Supervisor) Pause(ctx context.Context, ref string) (*api.SandboxInfo, error) {
	return s.simpleOp(ref, OpPause, func(sb Sandbox) error { return sb.Pause(ctx) })
}

// Resume thaws a paused sandbox.
func (s *Supervisor) Resume(ctx context.Context, ref string) (*api.SandboxInfo, error) {
	return s.simpleOp(ref, OpResume, func(sb Sandbox) error { return sb.Resume(ctx) })
}

// Stats reads a sandbox's resource usage.
func (s *Supervisor) Stats(ctx context.Context, ref string) (*api.StatsResponse, error) {
	var st *api.Stats
	info, err := s.simpleOp(ref, OpStats, func(sb Sandbox) (err error) {
		st, err = sb.Stats(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &api.StatsResponse{ID: info.ID, Stats: *st}, nil
}

// lockFor looks ref up, locks it and checks op against the table. On
// success the caller holds b.mu and must unlock it.
func (s *Supervisor) lockFor(ref string, op Op) (*box, error) {
	b, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if _, err := next(b.rec.State, op); err != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("sandbox %s: %w", b.rec.ID, err)
	}
	return b, nil
}

// simpleOp checks op against the table, runs fn on the backend sandbox and,
// if it worked, moves to the op's target state. b.mu is held throughout, so
// ops on one sandbox are serialized.
func (s *Supervisor) simpleOp(ref string, op Op, fn func(Sandbox) error) (*api.SandboxInfo, error) {
	b, err := s.lockFor(ref, op)
	if err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	if err := fn(b.sb); err != nil {
		if errors.Is(err, api.ErrNotRunning) {
			_ = s.apply(b, OpStop, err.Error())
		}
		return nil, fmt.Errorf("%s sandbox %s: %w", op, b.rec.ID, err)
	}
	if err := s.apply(b, op, ""); err != nil {
		return nil, err
	}
	return b.info(), nil
}

// apply moves b along op in the transition table, persists the new state
// and publishes it. b.mu must be held.
func (s *Supervisor) apply(b *box, op Op, errMsg string) error {
	to, err := next(b.rec.State, op)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", b.rec.ID, err)
	}
	return s.setState(b, to, errMsg)
}

// setState records state to with an optional error message. b.mu must be
// held.
func (s *Supervisor) setState(b *box, to api.State, errMsg string) error {
	from := b.rec.State
	b.rec.State, b.rec.Error, b.rec.UpdatedAt = to, errMsg, time.Now().UTC()
	err := s.store.save(&b.rec)
	if err != nil {
		s.log.Error("saving sandbox state", "id", b.rec.ID, "err", err)
		err = fmt.Errorf("saving state of sandbox %s: %w", b.rec.ID, err)
	}
	if from != to {
		s.publish(api.Event{Type: api.EventState, Sandbox: b.rec.ID, From: from, To: to, Error: errMsg})
	}
	return err
}

func (s *Supervisor) publish(e api.Event) {
	s.events.publish(e)
}

// info describes b. b.mu must be held.
func (b *box) info() *api.SandboxInfo {
	info := &api.SandboxInfo{
		ID: b.rec.ID, Name: b.rec.Name, Backend: b.rec.Backend, State: b.rec.State,
		Error: b.rec.Error, CreatedAt: b.rec.CreatedAt, UpdatedAt: b.rec.UpdatedAt,
		Spec:        b.spec,
		Execs:       slices.Clone(b.rec.Execs),
		Interrupted: slices.Clone(b.rec.Interrupted),
	}
	if e, ok := b.sb.(enforcer); ok {
		info.Enforced = e.Enforced()
	}
	return info
}

// enforcer is implemented by backend sandboxes that can tell what their
// commands get.
type enforcer interface{ Enforced() any }

// newID returns 12 random hex digits.
func newID() string {
	var buf [6]byte
	if _, err := rand.Read(buf[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(buf[:])
}
