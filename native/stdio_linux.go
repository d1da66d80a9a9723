//go:build linux

package native

import (
	"io"
	"os"
	"sync"
)

// stdio connects a command's standard streams to a Process's reader and
// writers. An *os.File is handed over as it is; anything else goes through
// a pipe copied by a goroutine, so output streams while the command runs.
type stdio struct {
	child    [3]*os.File // what the command gets as fds 0, 1, 2
	own      []*os.File  // child ends opened here, closed after the start
	readEnds []*os.File  // parent ends of the output pipes
	stdinW   *os.File
	copies   sync.WaitGroup
	start    []func()
}

func newStdio(p Process) (_ *stdio, retErr error) {
	s := &stdio{}
	defer func() {
		if retErr != nil {
			s.closeChildEnds()
			s.closeParentEnds()
		}
	}()
	var err error
	if s.child[0], err = s.input(p.Stdin); err != nil {
		return nil, err
	}
	if s.child[1], err = s.output(p.Stdout); err != nil {
		return nil, err
	}
	if sameWriter(p.Stdout, p.Stderr) {
		// One pipe for both, so that one goroutine at a time writes
		// to a writer that may not be safe for concurrent use.
		s.child[2] = s.child[1]
	} else if s.child[2], err = s.output(p.Stderr); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stdio) input(r io.Reader) (*os.File, error) {
	if f, ok := r.(*os.File); ok && f != nil {
		return f, nil
	}
	if r == nil {
		return s.devNull(os.O_RDONLY)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.own = append(s.own, pr)
	s.stdinW = pw
	s.start = append(s.start, func() {
		go func() {
			_, _ = io.Copy(pw, r)
			_ = pw.Close()
		}()
	})
	return pr, nil
}

func (s *stdio) output(w io.Writer) (*os.File, error) {
	if f, ok := w.(*os.File); ok && f != nil {
		return f, nil
	}
	if w == nil {
		return s.devNull(os.O_WRONLY)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.own = append(s.own, pw)
	s.readEnds = append(s.readEnds, pr)
	s.copies.Add(1)
	s.start = append(s.start, func() {
		go func() {
			defer s.copies.Done()
			_, _ = io.Copy(w, pr)
		}()
	})
	return pw, nil
}

func (s *stdio) devNull(flag int) (*os.File, error) {
	f, err := os.OpenFile(os.DevNull, flag, 0)
	if err != nil {
		return nil, err
	}
	s.own = append(s.own, f)
	return f, nil
}

// childFDs are the descriptors of child. Like os/exec, this puts them
// in blocking mode: the command expects that.
func (s *stdio) childFDs() [3]int {
	return [3]int{int(s.child[0].Fd()), int(s.child[1].Fd()), int(s.child[2].Fd())}
}

// startCopies starts the copying goroutines; call it once the command runs.
func (s *stdio) startCopies() {
	for _, f := range s.start {
		f()
	}
	s.start = nil
}

// closeChildEnds closes this process's copies of the command's ends, so
// that the output pipes reach end of file when the command's side closes.
func (s *stdio) closeChildEnds() {
	for _, f := range s.own {
		_ = f.Close()
	}
	s.own = nil
}

// closeParentEnds stops the copies early.
func (s *stdio) closeParentEnds() {
	for _, f := range s.readEnds {
		_ = f.Close()
	}
	if s.stdinW != nil {
		_ = s.stdinW.Close()
	}
}

// finish waits until the output is copied (every writer of the pipes has
// exited) and releases the pipes. An input copy blocked on its reader is
// left behind, as os/exec does.
func (s *stdio) finish() {
	s.closeChildEnds()
	s.startCopies() // so that Done is called for copies never started
	s.copies.Wait()
	s.closeParentEnds()
}

// sameWriter reports whether a and b are the same comparable writer.
func sameWriter(a, b io.Writer) (same bool) {
	if a == nil || b == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			same = false // not comparable
		}
	}()
	return a == b
}
