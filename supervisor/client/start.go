package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// StartOptions says how to start a daemon when none answers.
type StartOptions struct {
	// Path and Args are the daemon's command line, e.g. the agentd binary
	// and ["daemon", "--socket", ...].
	Path string
	Args []string
	// LogFile receives the daemon's output; empty means /dev/null.
	LogFile string
	// Timeout bounds the wait for the socket to answer; 0 means 15s.
	Timeout time.Duration
}

// EnsureDaemon returns at once if a daemon answers on the client's socket.
// Otherwise it starts one fully detached — its own session (setsid), stdin
// from /dev/null, output to the log file, never the caller's stdout or
// stderr, so a caller whose output is a pipe is not kept waiting — and polls
// the socket until it answers, the daemon exits, or the timeout passes.
func (c *Client) EnsureDaemon(ctx context.Context, opts StartOptions) (started bool, err error) {
	_, err = c.Version(ctx)
	switch {
	case err == nil || !errors.Is(err, ErrUnreachable):
		return false, err
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		// A daemon is there but this user may not use it; starting
		// another would not help.
		return false, fmt.Errorf("%w (the daemon allows root and the users given with agentd daemon --allow-uid/--allow-gid)", err)
	}
	cmd, err := startDetached(opts)
	if err != nil {
		return false, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.Version(pctx)
		cancel()
		if err == nil {
			return true, nil
		}
		select {
		case werr := <-exited:
			// Another daemon may have won a race for the same socket.
			if _, err := c.Version(ctx); err == nil {
				return false, nil
			}
			return false, fmt.Errorf("the agentd daemon exited at start (%v)%s", werr, logTail(opts.LogFile))
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("the agentd daemon did not answer on %s within %v%s", c.socket, timeout, logTail(opts.LogFile))
		}
	}
}

func startDetached(opts StartOptions) (*exec.Cmd, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	out := devnull
	if opts.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(opts.LogFile), 0o700); err != nil {
			return nil, fmt.Errorf("creating log dir: %w", err)
		}
		f, err := os.OpenFile(opts.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening daemon log: %w", err)
		}
		defer f.Close()
		out = f
	}
	cmd := exec.Command(opts.Path, opts.Args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, out, out
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the agentd daemon: %w", err)
	}
	return cmd, nil
}

// logTail returns the end of the daemon log, to explain a failed start.
func logTail(path string) string {
	if path == "" {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	if len(data) > 2048 {
		data = data[len(data)-2048:]
	}
	return "; daemon log " + path + ":\n" + strings.TrimSpace(string(data))
}
