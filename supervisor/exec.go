package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

// ExecIO connects an exec to its client.
type ExecIO struct {
	// Stdin is nil for no input.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Resize carries terminal size changes for a tty exec; may be nil.
	Resize <-chan api.Size
	// Started, if set, is called once the command runs. Output may already
	// be written concurrently; writers that must wait for it can block.
	Started func(api.ExecInfo)
}

// killReason says why a session's process tree was killed.
type killReason int

const (
	notKilled killReason = iota
	killedByTimeout
	killedByRemove
	killedByClient
	killedByRestore
)

// session is one running exec.
type session struct {
	info api.ExecInfo
	proc Process

	mu     sync.Mutex
	reason killReason
}

// kill kills the exec's whole process tree, remembering the first reason.
func (ss *session) kill(r killReason) {
	ss.mu.Lock()
	if ss.reason == notKilled {
		ss.reason = r
	}
	ss.mu.Unlock()
	_ = ss.proc.Kill()
}

func (ss *session) killReason() killReason {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.reason
}

// Exec runs a command in a running sandbox and waits for it. Its output is
// written to eio as it is produced. When ctx ends (the client went away) or
// the timeout passes, the exec's whole process tree is killed. The error is
// for failures of agentd itself (no such sandbox, wrong state); how the
// command ended, including "not found" (127), is in the result.
func (s *Supervisor) Exec(ctx context.Context, ref string, req *api.ExecRequest, eio ExecIO) (*api.ExitResult, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	b, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	sess, res, err := s.startExec(ctx, b, req, eio)
	if err != nil || res != nil {
		return res, err
	}
	if eio.Started != nil {
		eio.Started(sess.info)
	}
	return s.waitExec(ctx, b, sess, execTimeout(b, req), eio.Resize), nil
}

// CheckExec reports whether an exec could start now, so the server can
// answer with a plain HTTP error before it commits to a stream.
func (s *Supervisor) CheckExec(ref string) error {
	b, err := s.lockFor(ref, OpExec)
	if err != nil {
		return err
	}
	b.mu.Unlock()
	return nil
}

// startExec checks the state and starts the process under b.mu, so a
// concurrent pause or remove sees the session. A command that cannot be
// found or executed yields a result rather than an error.
func (s *Supervisor) startExec(ctx context.Context, b *box, req *api.ExecRequest, eio ExecIO) (*session, *api.ExitResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := next(b.rec.State, OpExec); err != nil {
		return nil, nil, fmt.Errorf("sandbox %s: %w", b.rec.ID, err)
	}
	cfg := execConfig(b.spec, req, eio, execTimeout(b, req))
	info := api.ExecInfo{ID: cfg.ID, Args: slices.Clone(req.Args), StartedAt: time.Now().UTC()}
	proc, err := b.sb.Exec(ctx, cfg)
	if err != nil {
		code := 0
		switch {
		case errors.Is(err, api.ErrCommandNotFound):
			code = api.ExitNotFound
		case errors.Is(err, api.ErrNotExecutable):
			code = api.ExitNotExecutable
		case errors.Is(err, api.ErrNotRunning):
			_ = s.apply(b, OpStop, err.Error())
			return nil, nil, fmt.Errorf("exec in sandbox %s: %w", b.rec.ID, err)
		default:
			return nil, nil, fmt.Errorf("exec in sandbox %s: %w", b.rec.ID, err)
		}
		res := &api.ExitResult{Code: code, Error: err.Error()}
		s.publish(api.Event{Type: api.EventExecExit, Sandbox: b.rec.ID, Exec: &info, Exit: res})
		return nil, res, nil
	}
	info.Pid = proc.Pid()
	sess := &session{info: info, proc: proc}
	b.execs[info.ID] = sess
	b.rec.Execs = append(b.rec.Execs, info)
	if err := s.store.saveExecs(&b.rec); err != nil {
		s.log.Error("saving exec start", "id", b.rec.ID, "err", err)
	}
	s.publish(api.Event{Type: api.EventExecStart, Sandbox: b.rec.ID, Exec: &info})
	return sess, nil, nil
}

// waitExec enforces the timeout and the client's presence, forwards
// resizes, waits for the exit and records it.
func (s *Supervisor) waitExec(ctx context.Context, b *box, sess *session, timeout time.Duration, resize <-chan api.Size) *api.ExitResult {
	if timeout > 0 {
		t := time.AfterFunc(timeout, func() { sess.kill(killedByTimeout) })
		defer t.Stop()
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				sess.kill(killedByClient)
				return
			case sz, ok := <-resize:
				if !ok {
					resize = nil
					continue
				}
				_ = sess.proc.Resize(sz.Rows, sz.Cols)
			case <-done:
				return
			}
		}
	}()
	st, err := sess.proc.Wait()
	close(done)
	res := exitResult(st, err, sess.killReason())

	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.execs, sess.info.ID)
	b.rec.Execs = slices.DeleteFunc(b.rec.Execs, func(e api.ExecInfo) bool { return e.ID == sess.info.ID })
	// A sandbox being removed has no state file to update.
	if b.rec.State != api.Removing {
		if err := s.store.saveExecs(&b.rec); err != nil {
			s.log.Error("saving exec exit", "id", b.rec.ID, "err", err)
		}
	}
	s.publish(api.Event{Type: api.EventExecExit, Sandbox: b.rec.ID, Exec: &sess.info, Exit: res})
	return res
}

// exitResult applies the exit code convention.
func exitResult(st ExitStatus, err error, reason killReason) *api.ExitResult {
	res := &api.ExitResult{Code: st.Code, Signal: st.Signal}
	if st.Signal > 0 {
		res.Code = 128 + st.Signal
	}
	if err != nil {
		res.Code, res.Error = api.ExitAgentd, err.Error()
	}
	switch {
	case reason == killedByTimeout || (reason == notKilled && st.TimedOut):
		res.Code, res.TimedOut = api.ExitTimeout, true
	case reason == killedByRemove:
		res.Killed, res.Error = true, "the sandbox was removed"
	case reason == killedByClient:
		res.Killed, res.Error = true, "the client went away"
	case reason == killedByRestore:
		res.Killed, res.Error = true, "the sandbox was restored from a snapshot"
	}
	return res
}

// execTimeout is the request's timeout, else the spec's.
func execTimeout(b *box, req *api.ExecRequest) time.Duration {
	ms := req.TimeoutMs
	if ms == 0 && b.spec != nil {
		ms = b.spec.Limits.TimeoutMs
	}
	return time.Duration(ms) * time.Millisecond
}

// execConfig builds what the backend needs. The environment is the
// request's only: each backend adds the spec's and its defaults, and never
// the daemon's own.
func execConfig(spec *bundle.Spec, req *api.ExecRequest, eio ExecIO, timeout time.Duration) *ExecConfig {
	user := req.User
	if user == nil && spec != nil {
		user = spec.User
	}
	cfg := &ExecConfig{
		ID: newID(), Args: slices.Clone(req.Args), Env: maps.Clone(req.Env), Workdir: req.Workdir,
		User: user, Tty: req.Tty, Timeout: timeout,
		Stdin: eio.Stdin, Stdout: eio.Stdout, Stderr: eio.Stderr,
	}
	if req.TtySize != nil {
		cfg.Rows, cfg.Cols = req.TtySize.Rows, req.TtySize.Cols
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	return cfg
}
