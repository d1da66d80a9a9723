package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/agentd/agentd/supervisor/api"
)

// ExecIO connects an exec to the caller.
type ExecIO struct {
	// Stdin, when not nil, is streamed to the command over an upgraded
	// connection; its end of file closes the command's stdin.
	Stdin io.Reader
	// Stdout and Stderr receive the output as it is produced; nil
	// discards it.
	Stdout, Stderr io.Writer
	// Resize, when not nil, carries terminal size changes (it also
	// selects the upgraded connection).
	Resize <-chan api.Size
	// Started, if set, is called when the command runs.
	Started func(api.ExecInfo)
}

// Exec runs a command in a sandbox and returns how it ended. The error is
// for agentd's own failures (unknown sandbox, paused sandbox, daemon gone);
// a command that was not found is a result with code 127.
func (c *Client) Exec(ctx context.Context, ref string, req *api.ExecRequest, eio ExecIO) (*api.ExitResult, error) {
	upgrade := eio.Stdin != nil || eio.Resize != nil
	var hdr http.Header
	if upgrade {
		hdr = http.Header{"Connection": {"Upgrade"}, "Upgrade": {api.UpgradeProtocol}}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := c.send(ctx, http.MethodPost, sandboxPath(ref, "exec"), req, hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		rwc, ok := resp.Body.(io.ReadWriteCloser)
		if !ok {
			return nil, errors.New("the daemon's upgraded connection is not writable")
		}
		in := &inputWriter{w: rwc}
		go in.copyStdin(eio.Stdin)
		go in.forwardResize(ctx, eio.Resize)
		// Closing the connection when ctx ends tells the daemon to kill
		// the command.
		stop := context.AfterFunc(ctx, func() { rwc.Close() })
		defer stop()
	}
	res, err := readFrames(resp.Body, eio)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return res, err
}

// readFrames copies output frames to eio until the exit frame.
func readFrames(r io.Reader, eio ExecIO) (*api.ExitResult, error) {
	dec := json.NewDecoder(r)
	for {
		var f api.Frame
		if err := dec.Decode(&f); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading exec output: %w (the daemon closed the stream before the command ended)", err)
		}
		switch {
		case f.Exit != nil:
			return f.Exit, nil
		case f.Error != nil:
			return nil, &Error{Status: http.StatusOK, Kind: f.Error.Kind, Message: f.Error.Message}
		case f.Started != nil:
			if eio.Started != nil {
				eio.Started(*f.Started)
			}
		case f.Stream == "stdout" && eio.Stdout != nil:
			if _, err := eio.Stdout.Write(f.Data); err != nil {
				return nil, fmt.Errorf("writing stdout: %w", err)
			}
		case f.Stream == "stderr" && eio.Stderr != nil:
			if _, err := eio.Stderr.Write(f.Data); err != nil {
				return nil, fmt.Errorf("writing stderr: %w", err)
			}
		}
	}
}

// inputWriter sends input frames on an upgraded connection.
type inputWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (in *inputWriter) send(f api.InputFrame) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	_, err = in.w.Write(append(data, '\n'))
	return err
}

// copyStdin streams r as stdin frames, then closes the command's stdin. A
// nil r closes it at once.
func (in *inputWriter) copyStdin(r io.Reader) {
	if r != nil {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if in.send(api.InputFrame{Stdin: buf[:n]}) != nil {
					return
				}
			}
			if err != nil {
				break
			}
		}
	}
	_ = in.send(api.InputFrame{CloseStdin: true})
}

func (in *inputWriter) forwardResize(ctx context.Context, resize <-chan api.Size) {
	if resize == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case sz, ok := <-resize:
			if !ok {
				return
			}
			if in.send(api.InputFrame{Resize: &sz}) != nil {
				return
			}
		}
	}
}
