package runtime

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// dialConsoleSocket connects to the caller's --console-socket; libcontainer
// sends the pty master of the container's process over the returned file
// (SCM_RIGHTS), which is how containerd and podman get a terminal.
func dialConsoleSocket(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connecting to console socket %s: %w", path, err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	return f, nil
}

// RecvFd receives one file descriptor sent with SCM_RIGHTS on sock (a
// console socket's connection: the pty master); the file is named after
// the message that came with it. It is close-on-exec from the start: a
// daemon forks other processes meanwhile.
func RecvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receiving console: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("receiving console: no file descriptor in message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("receiving console: bad file descriptor message")
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// foregroundTTY relays a container process's pty to this process's terminal
// (agentd run/exec -t without a console socket).
type foregroundTTY struct {
	parent, child *os.File
	master        console.Console
	host          console.Console
	wg            sync.WaitGroup
}

func newForegroundTTY() (*foregroundTTY, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket pair: %w", err)
	}
	return &foregroundTTY{
		parent: os.NewFile(uintptr(fds[0]), "console-parent"),
		child:  os.NewFile(uintptr(fds[1]), "console-child"),
	}, nil
}

// attach receives the pty master and starts copying; call it after the
// process has started.
func (t *foregroundTTY) attach() error {
	t.child.Close()
	f, err := RecvFd(t.parent)
	t.parent.Close()
	if err != nil {
		return err
	}
	master, err := console.ConsoleFromFile(f)
	if err != nil {
		return fmt.Errorf("container console: %w", err)
	}
	t.master = master
	if host, err := console.ConsoleFromFile(os.Stdin); err == nil {
		if err := host.SetRaw(); err == nil {
			t.host = host
			_ = master.ResizeFrom(host)
			t.watchResize()
		}
	}
	go func() { _, _ = io.Copy(master, os.Stdin) }()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		_, _ = io.Copy(os.Stdout, master) // ends with EIO when the pty closes
	}()
	return nil
}

func (t *foregroundTTY) watchResize() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	go func() {
		for range ch {
			_ = t.master.ResizeFrom(t.host)
		}
	}()
}

// close waits for the output to drain and restores the host terminal.
func (t *foregroundTTY) close() {
	if t.master != nil {
		t.wg.Wait()
		t.master.Close()
	}
	if t.host != nil {
		_ = t.host.Reset()
	}
	t.parent.Close()
	t.child.Close()
}
