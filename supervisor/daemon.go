package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/supervisor/api"
)

// DaemonConfig configures [RunDaemon].
type DaemonConfig struct {
	StateDir string // sandboxes/<id>/... live here
	Socket   string // the API's unix socket
	Auth     PeerAuth
	Backends []Backend
	Log      *slog.Logger
	// Beside, when set, sets up something served next to the API (the
	// CLI's forwarded runs). It is called once the API socket exists and
	// before the API answers, so that whatever answers the API finds it
	// too, and returns what serves it until its context ends at shutdown
	// (nil: nothing to serve); RunDaemon returns only after that has.
	Beside func() (serve func(ctx context.Context))
}

// RunDaemon is `agentd daemon`: it takes the state dir's lock, becomes a
// child subreaper, recovers the sandboxes already there, and serves the API
// on the socket until ctx ends. Sandboxes outlive the daemon; execs running
// at shutdown are killed.
func RunDaemon(ctx context.Context, cfg DaemonConfig) error {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("creating state dir: %w", err)
	}
	unlock, err := lockFile(filepath.Join(cfg.StateDir, "daemon.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.MkdirAll(filepath.Dir(cfg.Socket), 0o700); err != nil {
		return fmt.Errorf("creating socket dir: %w", err)
	}
	unlockSock, err := lockFile(cfg.Socket + ".lock")
	if err != nil {
		return err
	}
	defer unlockSock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := startReaper(ctx); err != nil {
		return err
	}
	sup, err := New(cfg.StateDir, cfg.Backends, log)
	if err != nil {
		return err
	}
	if err := sup.Recover(ctx); err != nil {
		return fmt.Errorf("recovering sandboxes: %w", err)
	}
	return serve(ctx, sup, cfg, log)
}

// serve answers the API on the socket until ctx ends, then kills the
// running execs and closes the connections.
func serve(ctx context.Context, sup *Supervisor, cfg DaemonConfig, log *slog.Logger) error {
	l, err := Listen(cfg.Socket, &cfg.Auth)
	if err != nil {
		return err
	}
	defer os.Remove(cfg.Socket)
	srv := &http.Server{
		Handler:           NewServer(sup, &cfg.Auth, log),
		ConnContext:       cfg.Auth.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.Beside != nil {
		if besideServe := cfg.Beside(); besideServe != nil {
			bctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				besideServe(bctx)
			}()
			defer func() { stop(); <-done }()
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	log.Info("agentd daemon serving", "socket", cfg.Socket, "stateDir", cfg.StateDir, "backends", sup.Backends())
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	}
	sup.Shutdown()
	shutCtx, stop := context.WithTimeout(context.Background(), 3*time.Second)
	defer stop()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	return nil
}

// Shutdown kills every running exec (its client loses it anyway) so that
// no process is left without a reader. Sandboxes stay.
func (s *Supervisor) Shutdown() {
	s.mu.Lock()
	var sessions []*session
	for _, b := range s.boxes {
		b.mu.Lock()
		for _, sess := range b.execs {
			sessions = append(sessions, sess)
		}
		b.mu.Unlock()
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.kill(killedByClient)
	}
}

// lockFile takes an exclusive, non-blocking flock on path.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another agentd process holds %s: %w", path, api.ErrExist)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
