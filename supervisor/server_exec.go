package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/agentd/agentd/supervisor/api"
)

// exec runs a command and streams its output as newline-delimited JSON
// frames, flushed as they are produced. Errors found before the command
// starts are plain HTTP errors; later ones are an error frame.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := api.DecodeExecRequest(data)
	if err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	if err := s.sup.CheckExec(id); err != nil {
		writeError(w, err)
		return
	}
	if isUpgrade(r) {
		s.execUpgraded(w, r, id, req)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	fw := newFrameWriter(cancel)
	rc := http.NewResponseController(w)
	commit := func(first api.Frame) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		fw.commit(w, rc.Flush, first)
	}
	var stdin io.Reader
	if len(req.Stdin) > 0 {
		stdin = bytes.NewReader(req.Stdin)
	}
	res, err := s.sup.Exec(ctx, id, req, ExecIO{
		Stdin: stdin, Stdout: fw.stream("stdout"), Stderr: fw.stream("stderr"),
		Started: func(info api.ExecInfo) { commit(api.Frame{Started: &info}) },
	})
	s.finishExec(w, fw, commit, res, err)
}

// finishExec sends the exec's last frame, or a plain error response when
// nothing has been sent yet.
func (s *Server) finishExec(w http.ResponseWriter, fw *frameWriter, commit func(api.Frame), res *api.ExitResult, err error) {
	switch {
	case fw.isCommitted() && err != nil:
		_, kind := api.Classify(err)
		_ = fw.send(api.Frame{Error: &api.ErrorBody{Message: err.Error(), Kind: kind}})
	case fw.isCommitted():
		_ = fw.send(api.Frame{Exit: res})
	case err != nil:
		writeError(w, err)
	default: // the command could not start (126, 127)
		commit(api.Frame{Exit: res})
	}
}

// execUpgraded serves an exec on a hijacked connection, reading stdin,
// close and resize frames from the client while the output streams back.
func (s *Server) execUpgraded(w http.ResponseWriter, r *http.Request, id string, req *api.ExecRequest) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	fw := newFrameWriter(cancel)
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	resize := make(chan api.Size, 8)
	var conn io.Closer
	var hijackErr error
	commit := func(first api.Frame) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			hijackErr = err
			cancel()
			return
		}
		conn = c
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + api.UpgradeProtocol + "\r\n\r\n")
		fw.commit(brw, brw.Flush, first)
		go readInput(brw.Reader, stdinW, resize, cancel)
	}
	res, err := s.sup.Exec(ctx, id, req, ExecIO{
		Stdin: stdinR, Stdout: fw.stream("stdout"), Stderr: fw.stream("stderr"), Resize: resize,
		Started: func(info api.ExecInfo) { commit(api.Frame{Started: &info}) },
	})
	if hijackErr != nil {
		s.log.Error("hijacking exec connection", "err", hijackErr)
		return
	}
	if fw.isCommitted() || err != nil {
		s.finishExec(w, fw, func(f api.Frame) {}, res, err)
	} else {
		// Not started (126, 127): answer without upgrading.
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(api.Frame{Exit: res})
	}
	if conn != nil {
		_ = conn.Close()
	}
}

// maxInputFrame bounds one input line on an upgraded exec connection.
const maxInputFrame = 1 << 20

// readInput applies the client's input frames until the connection ends; a
// connection that ends (rather than a closeStdin frame) or a malformed frame
// means the client is gone, and cancel kills the exec.
func readInput(r *bufio.Reader, stdin *io.PipeWriter, resize chan<- api.Size, cancel func()) {
	defer cancel()
	defer stdin.CloseWithError(io.ErrUnexpectedEOF)
	open := true
	for {
		line, err := readLine(r, maxInputFrame)
		if err != nil {
			return
		}
		var f api.InputFrame
		if err := api.DecodeJSON(bytes.NewReader(line), &f); err != nil {
			return
		}
		if len(f.Stdin) > 0 && open {
			if _, err := stdin.Write(f.Stdin); err != nil {
				open = false // the command closed its stdin; drop further input
			}
		}
		if f.Resize != nil {
			select {
			case resize <- *f.Resize:
			default:
			}
		}
		if f.CloseStdin && open {
			open = false
			_ = stdin.Close()
		}
	}
}

// readLine reads one newline-terminated line of at most max bytes.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, errors.New("input frame too long")
		}
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), api.UpgradeProtocol) &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// frameWriter serializes frames onto a response once it is committed.
// Output written before the commit waits for it, so the started frame is
// always first.
type frameWriter struct {
	once   sync.Once
	ready  chan struct{}
	onFail func() // called once when writing fails: the client is gone

	mu    sync.Mutex
	enc   *json.Encoder
	flush func() error
	err   error
}

func newFrameWriter(onFail func()) *frameWriter {
	return &frameWriter{ready: make(chan struct{}), onFail: onFail}
}

// commit sets the destination, sends first, and releases waiting writers.
func (fw *frameWriter) commit(w io.Writer, flush func() error, first api.Frame) {
	fw.once.Do(func() {
		fw.enc, fw.flush = json.NewEncoder(w), flush
		fw.mu.Lock()
		fw.writeLocked(first)
		fw.mu.Unlock()
		close(fw.ready)
	})
}

func (fw *frameWriter) isCommitted() bool {
	select {
	case <-fw.ready:
		return true
	default:
		return false
	}
}

func (fw *frameWriter) send(f api.Frame) error {
	<-fw.ready
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.writeLocked(f)
}

// writeLocked writes and flushes one frame. fw.mu must be held.
func (fw *frameWriter) writeLocked(f api.Frame) error {
	if fw.err != nil {
		return fw.err
	}
	err := fw.enc.Encode(f)
	if err == nil {
		err = fw.flush()
	}
	if err != nil {
		fw.err = err
		fw.onFail()
	}
	return err
}

// stream returns a writer that sends what is written as frames of the
// named stream.
func (fw *frameWriter) stream(name string) io.Writer {
	return streamWriter{fw: fw, name: name}
}

type streamWriter struct {
	fw   *frameWriter
	name string
}

func (sw streamWriter) Write(p []byte) (int, error) {
	if err := sw.fw.send(api.Frame{Stream: sw.name, Data: p}); err != nil {
		return 0, err
	}
	return len(p), nil
}
