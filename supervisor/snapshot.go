package supervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

// Snapshotter is implemented by backend sandboxes whose file system can be
// snapshotted and restored: the container backend's, whose state is one
// overlay upper layer. The native backend works on the host's own files and
// has none.
type Snapshotter interface {
	// Snapshot copies the sandbox's file system to snapshot name; running
	// says the sandbox must be frozen during the copy.
	Snapshot(ctx context.Context, name string, running bool, progress func(bundle.CopyStats)) (*bundle.SnapshotInfo, error)
	Snapshots(ctx context.Context) ([]bundle.SnapshotInfo, error)
	RemoveSnapshot(ctx context.Context, name string) error
	// Restore kills every process of the sandbox, makes its file system
	// the snapshot's again and starts it anew.
	Restore(ctx context.Context, name string, progress func(bundle.CopyStats)) (bundle.CopyStats, error)
}

// Forker is implemented by backends that can start sandbox id from the
// file system of sandbox srcID: its snapshot, or with snapshot "" its live
// state (srcRunning: freeze it during the copy).
type Forker interface {
	Fork(ctx context.Context, srcID, snapshot string, srcRunning bool, id string, spec *bundle.Spec,
		progress func(bundle.CopyStats)) (Sandbox, bundle.CopyStats, error)
}

// snapshotErr maps the bundle package's errors to the API's.
func snapshotErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bundle.ErrSnapshotNotExist):
		return fmt.Errorf("%w: %v", api.ErrNotExist, err)
	case errors.Is(err, bundle.ErrInvalidSnapshotName):
		return fmt.Errorf("%w: %v", api.ErrInvalidArgument, err)
	case errors.Is(err, bundle.ErrExist):
		return fmt.Errorf("%w: %v", api.ErrExist, err)
	}
	return err
}

// snapshotter returns b's backend sandbox as a Snapshotter, or an error
// that names the backend that cannot. b.mu must be held.
func snapshotter(b *box) (Snapshotter, error) {
	sn, ok := b.sb.(Snapshotter)
	if !ok {
		return nil, fmt.Errorf("%w: snapshots are not supported by the %s backend (it runs on the host's own files)",
			api.ErrUnsupported, b.rec.Backend)
	}
	return sn, nil
}

// withSnapshotter runs fn with b's Snapshotter once op is allowed. b.mu is
// held throughout, so nothing else happens to the sandbox meanwhile.
func (s *Supervisor) withSnapshotter(ref string, op Op, fn func(*box, Snapshotter) error) (*box, error) {
	b, err := s.lockFor(ref, op)
	if err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	sn, err := snapshotter(b)
	if err != nil {
		return nil, err
	}
	return b, snapshotErr(fn(b, sn))
}

// Snapshot copies a sandbox's file system to snapshot name, freezing a
// running sandbox during the copy.
func (s *Supervisor) Snapshot(ctx context.Context, ref, name string, progress func(bundle.CopyStats)) (*api.SnapshotResult, error) {
	if err := bundle.ValidateSnapshotName(name); err != nil {
		return nil, snapshotErr(err)
	}
	var info *bundle.SnapshotInfo
	b, err := s.withSnapshotter(ref, OpSnapshot, func(b *box, sn Snapshotter) (err error) {
		info, err = sn.Snapshot(context.WithoutCancel(ctx), name, b.rec.State == api.Running, progress)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publish(api.Event{Type: api.EventSnapshot, Sandbox: b.rec.ID, Snapshot: name})
	return &api.SnapshotResult{Sandbox: b.rec.ID, Snapshot: *info}, nil
}

// Snapshots lists a sandbox's snapshots, oldest first.
func (s *Supervisor) Snapshots(ctx context.Context, ref string) ([]bundle.SnapshotInfo, error) {
	var out []bundle.SnapshotInfo
	_, err := s.withSnapshotter(ref, OpListSnapshots, func(_ *box, sn Snapshotter) (err error) {
		out, err = sn.Snapshots(ctx)
		return err
	})
	return out, err
}

// RemoveSnapshot deletes one snapshot of a sandbox.
func (s *Supervisor) RemoveSnapshot(ctx context.Context, ref, name string) error {
	_, err := s.withSnapshotter(ref, OpListSnapshots, func(_ *box, sn Snapshotter) error {
		return sn.RemoveSnapshot(ctx, name)
	})
	return err
}

// Restore kills a sandbox's commands and processes, puts its file system
// back as it was at snapshot name, and starts it again.
func (s *Supervisor) Restore(ctx context.Context, ref, name string, progress func(bundle.CopyStats)) (*api.CopyResult, error) {
	if err := bundle.ValidateSnapshotName(name); err != nil {
		return nil, snapshotErr(err)
	}
	var st bundle.CopyStats
	b, err := s.withSnapshotter(ref, OpRestore, func(b *box, sn Snapshotter) error {
		for _, sess := range b.execs {
			sess.kill(killedByRestore)
		}
		var err error
		st, err = sn.Restore(context.WithoutCancel(ctx), name, progress)
		if err != nil {
			return err
		}
		return s.apply(b, OpRestore, "")
	})
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s.publish(api.Event{Type: api.EventRestore, Sandbox: b.rec.ID, Snapshot: name})
	return &api.CopyResult{Sandbox: *b.info(), Copy: st}, nil
}

// Fork creates a new sandbox with the spec of sandbox ref whose file system
// starts as ref's snapshot, or with snapshot "" as ref's live file system
// (frozen during the copy).
func (s *Supervisor) Fork(ctx context.Context, ref, snapshot, name string, progress func(bundle.CopyStats)) (*api.CopyResult, error) {
	src, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	if snapshot != "" {
		if err := bundle.ValidateSnapshotName(snapshot); err != nil {
			return nil, snapshotErr(err)
		}
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if _, err := next(src.rec.State, OpFork); err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", src.rec.ID, err)
	}
	be, ok := s.backends[src.rec.Backend].(Forker)
	if !ok {
		return nil, fmt.Errorf("%w: fork is not supported by the %s backend (it runs on the host's own files)",
			api.ErrUnsupported, src.rec.Backend)
	}
	var st bundle.CopyStats
	info, err := s.build(ctx, name, src.spec, func(id string) (Sandbox, error) {
		sb, copied, err := be.Fork(ctx, src.rec.ID, snapshot, src.rec.State == api.Running, id, src.spec, progress)
		st = copied
		return sb, snapshotErr(err)
	})
	if err != nil {
		return nil, err
	}
	return &api.CopyResult{Sandbox: *info, Copy: st}, nil
}
