package main

import (
	"context"
	"io"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/supervisor/api"
)

// setupTerminal puts the local terminal (if stdin is one) in raw mode, so
// keys such as ^C go to the sandbox's pty, and reports its size now and on
// every SIGWINCH. restore must be called to put the terminal back.
func setupTerminal(ctx context.Context, stdin io.Reader) (restore func(), resize <-chan api.Size, size *api.Size) {
	f, ok := isTerminal(stdin)
	if !ok {
		return func() {}, nil, nil
	}
	old, err := getTermios(f)
	if err != nil {
		return func() {}, nil, nil
	}
	raw := *old
	// cfmakeraw(3).
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	_ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &raw)
	restore = func() { _ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, old) }

	ch := make(chan api.Size, 1)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGWINCH)
	go func() {
		defer signal.Stop(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sigs:
				if sz := termSize(f); sz != nil {
					select {
					case ch <- *sz:
					default:
					}
				}
			}
		}
	}()
	return restore, ch, termSize(f)
}

func getTermios(f *os.File) (*unix.Termios, error) {
	return unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
}

func termSize(f *os.File) *api.Size {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return &api.Size{Rows: 24, Cols: 80}
	}
	return &api.Size{Rows: ws.Row, Cols: ws.Col}
}
