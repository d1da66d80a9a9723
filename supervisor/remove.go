package supervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentd/agentd/supervisor/api"
)

// Remove destroys a sandbox and deletes its state. Without force it refuses
// a sandbox that has commands running; with force they are killed first.
// A second Remove of the same sandbox fails with ErrInvalidState while the
// first is under way and with ErrNotExist after it.
func (s *Supervisor) Remove(ctx context.Context, ref string, force bool) error {
	b, err := s.lookup(ref)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if n := len(b.execs); n > 0 && !force {
		b.mu.Unlock()
		return fmt.Errorf("sandbox %s has %d running command(s); use force to kill them: %w",
			b.rec.ID, n, api.ErrInvalidState)
	}
	if err := s.apply(b, OpRemove, ""); err != nil {
		b.mu.Unlock()
		return err
	}
	sessions := make([]*session, 0, len(b.execs))
	for _, sess := range b.execs {
		sessions = append(sessions, sess)
	}
	b.mu.Unlock()
	for _, sess := range sessions {
		sess.kill(killedByRemove)
	}
	// Removal runs to its end even if the client goes away.
	return s.finishRemove(context.WithoutCancel(ctx), b)
}

// finishRemove destroys b's backend sandbox and deletes its state; b is in
// state Removing. On failure b moves to Failed, from where Remove can be
// tried again.
func (s *Supervisor) finishRemove(ctx context.Context, b *box) error {
	id := b.rec.ID
	if err := s.destroy(ctx, b); err != nil {
		b.mu.Lock()
		_ = s.apply(b, OpFail, "removal failed: "+err.Error())
		b.mu.Unlock()
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	if err := s.store.remove(id); err != nil {
		b.mu.Lock()
		_ = s.apply(b, OpFail, "removal failed: "+err.Error())
		b.mu.Unlock()
		return err
	}
	s.forget(id)
	s.publish(api.Event{Type: api.EventRemoved, Sandbox: id, From: api.Removing})
	return nil
}

// destroy has the backend tear b down. A sandbox the backend could not load
// earlier is loaded again; one it no longer knows is already gone.
func (s *Supervisor) destroy(ctx context.Context, b *box) error {
	b.mu.Lock()
	sb, name := b.sb, b.rec.Backend
	b.mu.Unlock()
	if sb == nil {
		be, ok := s.backends[name]
		if !ok {
			if name == "" {
				return nil // unreadable state: there is nothing to ask
			}
			return fmt.Errorf("backend %q is not available in this daemon: %w", name, api.ErrUnsupported)
		}
		var err error
		sb, err = be.Load(ctx, b.rec.ID)
		if errors.Is(err, api.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return sb.Destroy(ctx)
}

// Recover loads every sandbox of the state dir after a daemon start: it
// reattaches the backends, reports the execs that were running when the
// previous daemon died as interrupted (and kills what is left of them),
// fails sandboxes caught half-created, and finishes interrupted removals.
// Nothing is dropped: a sandbox that cannot be loaded is kept as failed.
func (s *Supervisor) Recover(ctx context.Context) error {
	all, err := s.store.loadAll()
	if err != nil {
		return err
	}
	var removing []*box
	for _, l := range all {
		b := &box{rec: l.rec, spec: l.spec, execs: make(map[string]*session)}
		s.mu.Lock()
		s.boxes[b.rec.ID] = b
		s.mu.Unlock()
		if l.err != nil {
			b.rec.State, b.rec.Error = api.Failed, "unreadable state: "+l.err.Error()
			s.log.Error("loading sandbox", "id", b.rec.ID, "err", l.err)
			continue
		}
		b.mu.Lock()
		s.recoverBox(ctx, b)
		if b.rec.State == api.Removing {
			removing = append(removing, b)
		}
		b.mu.Unlock()
	}
	for _, b := range removing {
		if err := s.finishRemove(ctx, b); err != nil {
			s.log.Error("finishing removal", "id", b.rec.ID, "err", err)
		}
	}
	return nil
}

// recoverBox reattaches one sandbox. b.mu must be held.
func (s *Supervisor) recoverBox(ctx context.Context, b *box) {
	interrupted := b.rec.Execs
	b.rec.Execs = nil
	b.rec.Interrupted = append(b.rec.Interrupted, interrupted...)
	if n := len(b.rec.Interrupted); n > maxInterrupted {
		b.rec.Interrupted = b.rec.Interrupted[n-maxInterrupted:]
	}
	be, ok := s.backends[b.rec.Backend]
	var loadErr error
	if !ok {
		loadErr = fmt.Errorf("backend %q is not available in this daemon", b.rec.Backend)
	} else {
		b.sb, loadErr = be.Load(ctx, b.rec.ID)
	}
	if b.sb != nil && len(interrupted) > 0 {
		ids := make([]string, len(interrupted))
		for i, e := range interrupted {
			ids[i] = e.ID
		}
		if err := b.sb.KillExecs(ctx, ids); err != nil {
			s.log.Error("killing interrupted execs", "id", b.rec.ID, "err", err)
		}
	}
	for i := range interrupted {
		s.publish(api.Event{Type: api.EventInterrupted, Sandbox: b.rec.ID, Exec: &interrupted[i]})
	}
	switch {
	case b.rec.State == api.Creating:
		_ = s.apply(b, OpFail, "the daemon stopped while creating this sandbox")
	case b.rec.State == api.Removing:
		_ = s.store.save(&b.rec)
	case loadErr != nil && (b.rec.State == api.Running || b.rec.State == api.Paused):
		_ = s.apply(b, OpFail, "reattaching after daemon restart: "+loadErr.Error())
	default:
		if len(interrupted) > 0 {
			_ = s.setState(b, b.rec.State, b.rec.Error)
		}
	}
}
