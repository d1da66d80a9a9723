package supervisor

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	agentdruntime "github.com/agentd/agentd/runtime"
	"github.com/agentd/agentd/supervisor/api"
)

// openPTY allocates a pseudo-terminal pair.
func openPTY(rows, cols uint16) (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening pty: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlocking pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("opening pty slave: %w", err)
	}
	_ = resizePTY(m, rows, cols)
	return m, s, nil
}

// resizePTY sets the terminal size of a pty master; zero sizes are ignored.
func resizePTY(master *os.File, rows, cols uint16) error {
	if master == nil {
		return api.ErrUnsupported
	}
	if rows == 0 || cols == 0 {
		return nil
	}
	return unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

// ptyRelay copies between a terminal exec's pty master and its stdio.
type ptyRelay struct {
	master *os.File
	out    chan struct{} // closed when the pty's output ends
}

// relayPTY starts copying the master's output to cfg.Stdout and cfg.Stdin
// (if any) to the master.
func relayPTY(master *os.File, cfg *ExecConfig) *ptyRelay {
	r := &ptyRelay{master: master, out: make(chan struct{})}
	go func() {
		defer close(r.out)
		_, _ = io.Copy(cfg.Stdout, master)
	}()
	if cfg.Stdin != nil {
		go func() { _, _ = io.Copy(master, cfg.Stdin) }()
	}
	return r
}

// close lets the output that trails the exec's exit through (for at most
// outputGrace) and closes the master. A nil relay (no tty) does nothing.
func (r *ptyRelay) close() {
	if r == nil {
		return
	}
	select {
	case <-r.out:
	case <-time.After(outputGrace):
	}
	r.master.Close()
}

// resize sets the terminal's size; without a tty it is ErrUnsupported.
func (r *ptyRelay) resize(rows, cols uint16) error {
	if r == nil {
		return resizePTY(nil, rows, cols)
	}
	return resizePTY(r.master, rows, cols)
}

// consoleSocket receives the pty master libcontainer creates for a
// terminal exec (the OCI console-socket protocol).
type consoleSocket struct {
	path string
	l    *net.UnixListener
}

func newConsoleSocket(dir string) (*consoleSocket, error) {
	tmp, err := os.MkdirTemp(dir, "console-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(tmp, "c.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &consoleSocket{path: path, l: l}, nil
}

// receive waits (bounded) for the master and closes the socket.
func (c *consoleSocket) receive() (*os.File, error) {
	defer c.close()
	_ = c.l.SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := c.l.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("waiting for the console: %w", err)
	}
	defer conn.Close()
	f, err := conn.File()
	if err != nil {
		return nil, fmt.Errorf("receiving the console: %w", err)
	}
	defer f.Close()
	return agentdruntime.RecvFd(f)
}

func (c *consoleSocket) close() {
	c.l.Close()
	os.RemoveAll(filepath.Dir(c.path))
}

// stdioPipes gives a backend's process plain files for its stdio, so that
// nothing but the kernel sits between the command and the daemon, and
// copies them from and to the exec's readers and writers. After the
// command exits, drain waits briefly for the output, then cuts it off: a
// background process that keeps the pipe open must not hold the exec.
type stdioPipes struct {
	stdin, stdout, stderr *os.File // the command's ends
	outR, errR            *os.File
	wg                    sync.WaitGroup
}

func newStdioPipes(stdin io.Reader, stdout, stderr io.Writer) (_ *stdioPipes, retErr error) {
	p := &stdioPipes{}
	defer func() {
		if retErr != nil {
			p.closeChild()
			p.closeParent()
		}
	}()
	var err error
	if stdin == nil {
		if p.stdin, err = os.Open(os.DevNull); err != nil {
			return nil, err
		}
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		p.stdin = r
		go func() {
			_, _ = io.Copy(w, stdin)
			w.Close()
		}()
	}
	if p.outR, p.stdout, err = os.Pipe(); err != nil {
		return nil, err
	}
	if p.errR, p.stderr, err = os.Pipe(); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		r *os.File
		w io.Writer
	}{{p.outR, stdout}, {p.errR, stderr}} {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(c.w, c.r)
		}()
	}
	return p, nil
}

// closeChild closes the command's ends in the daemon once it has them.
func (p *stdioPipes) closeChild() {
	for _, f := range []*os.File{p.stdin, p.stdout, p.stderr} {
		if f != nil {
			f.Close()
		}
	}
}

func (p *stdioPipes) closeParent() {
	for _, f := range []*os.File{p.outR, p.errR} {
		if f != nil {
			f.Close()
		}
	}
}

// drain waits up to grace for the output to end, then cuts it off.
func (p *stdioPipes) drain(grace time.Duration) {
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		p.closeParent()
		<-done
	}
	p.closeParent()
}
