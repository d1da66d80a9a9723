package supervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentd/agentd/bundle"
)

// Snapshot copies the sandbox's upper layer, with the container frozen so
// that the copy is one moment's state.
func (s *containerSandbox) Snapshot(ctx context.Context, name string, running bool, progress func(bundle.CopyStats)) (*bundle.SnapshotInfo, error) {
	if running {
		if err := s.b.rt.Pause(s.id); err != nil {
			return nil, runtimeErr(err)
		}
		defer func() { _ = s.b.rt.Resume(s.id) }()
	}
	return bundle.Snapshot(s.b.stateDir, s.id, name, bundle.CopyOptions{Progress: progress})
}

func (s *containerSandbox) Snapshots(context.Context) ([]bundle.SnapshotInfo, error) {
	return bundle.Snapshots(s.b.stateDir, s.id)
}

func (s *containerSandbox) RemoveSnapshot(_ context.Context, name string) error {
	return bundle.RemoveSnapshot(s.b.stateDir, s.id, name)
}

// Restore stops the container, swaps the snapshot's copy in as its upper
// layer and starts it again. An unknown snapshot is refused before anything
// stops; a failed copy (a full disk) keeps the old layer and restarts the
// sandbox on it.
func (s *containerSandbox) Restore(ctx context.Context, name string, progress func(bundle.CopyStats)) (bundle.CopyStats, error) {
	if err := bundle.StatSnapshot(s.b.stateDir, s.id, name); err != nil {
		return bundle.CopyStats{}, err
	}
	spec, err := readSpecFile(s.b.stateDir, s.id)
	if err != nil {
		return bundle.CopyStats{}, err
	}
	if err := s.b.rt.Delete(s.id, true); err != nil {
		return bundle.CopyStats{}, fmt.Errorf("stopping sandbox %s: %w", s.id, err)
	}
	if err := bundle.Unmount(s.b.stateDir, s.id); err != nil {
		return bundle.CopyStats{}, err
	}
	st, copyErr := bundle.ReplaceUpper(s.b.stateDir, s.id, name, s.id, bundle.CopyOptions{Progress: progress})
	bd, err := bundle.Remount(s.b.stateDir, s.id, spec)
	if err != nil {
		return st, errors.Join(copyErr, fmt.Errorf("remounting sandbox %s: %w", s.id, err))
	}
	if err := s.b.start(ctx, s.id, bd.Dir); err != nil {
		return st, errors.Join(copyErr, err)
	}
	return st, copyErr
}

// Fork materializes sandbox id, fills its upper layer from srcID's snapshot
// (or from srcID's live upper layer, frozen during the copy) and starts it.
// On failure nothing of id is left.
func (b *containerBackend) Fork(ctx context.Context, srcID, snapshot string, srcRunning bool, id string,
	spec *bundle.Spec, progress func(bundle.CopyStats)) (_ Sandbox, _ bundle.CopyStats, retErr error) {
	if snapshot != "" {
		if err := bundle.StatSnapshot(b.stateDir, srcID, snapshot); err != nil {
			return nil, bundle.CopyStats{}, err
		}
	}
	if _, err := bundle.Materialize(b.stateDir, id, spec, containerInit); err != nil {
		return nil, bundle.CopyStats{}, err
	}
	defer func() {
		if retErr != nil {
			_ = b.rt.Delete(id, true)
			retErr = errors.Join(retErr, bundle.Remove(b.stateDir, id))
		}
	}()
	if err := bundle.Unmount(b.stateDir, id); err != nil {
		return nil, bundle.CopyStats{}, err
	}
	opts := bundle.CopyOptions{Progress: progress}
	var st bundle.CopyStats
	var err error
	if snapshot != "" {
		st, err = bundle.ReplaceUpper(b.stateDir, srcID, snapshot, id, opts)
	} else {
		if srcRunning {
			if err := b.rt.Pause(srcID); err != nil {
				return nil, st, runtimeErr(err)
			}
			defer func() { _ = b.rt.Resume(srcID) }()
		}
		st, err = bundle.CopyUpper(b.stateDir, srcID, id, opts)
	}
	if err != nil {
		return nil, st, err
	}
	bd, err := bundle.Remount(b.stateDir, id, spec)
	if err != nil {
		return nil, st, err
	}
	if err := b.start(ctx, id, bd.Dir); err != nil {
		return nil, st, err
	}
	return &containerSandbox{b: b, id: id}, st, nil
}
