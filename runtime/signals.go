package runtime

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// ParseSignal accepts a signal by number ("9"), name ("KILL") or full name
// ("SIGKILL"), case-insensitively, as runc's kill does.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("%w: signal %d is out of range 1-64", ErrInvalidArgument, n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("%w: unknown signal %q: use a name such as TERM or KILL, or a number", ErrInvalidArgument, s)
}

// Signals catches every signal agentd gets, for a foreground process to
// receive: see [CatchSignals].
type Signals struct {
	ch    chan os.Signal
	ready chan struct{}
}

// CatchSignals starts catching every signal agentd gets, for [Runtime.Run]
// and [Process.WaitForeground] to forward to the process. Call it before
// creating the process, so that a signal that comes meanwhile (Ctrl-C, a
// TERM from a supervisor) is forwarded once the process runs instead of
// killing agentd half-way.
//
// The Go runtime enables a caught signal with one round trip to its signal
// thread, for each of the 60-odd signals (about 2 ms here), so CatchSignals
// enables those that stop a command line (INT, TERM, HUP, QUIT) at once and
// the rest in the background, while the caller prepares the process; Run
// and Exec wait for them ([Signals.Ready]) before the process starts.
func CatchSignals() *Signals {
	s := &Signals{ch: make(chan os.Signal, 64), ready: make(chan struct{})}
	signal.Notify(s.ch, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	go func() {
		signal.Notify(s.ch)
		close(s.ready)
	}()
	return s
}

// NoSignals is for a caller that handles signals its own way (a daemon
// running a command for a client that relays its own): Run and
// WaitForeground forward none.
func NoSignals() *Signals {
	s := &Signals{ready: make(chan struct{})}
	close(s.ready)
	return s
}

// Ready waits until every signal is caught.
func (s *Signals) Ready() { <-s.ready }

// Stop stops catching: signals have their default effect again. It costs
// as much as CatchSignals; a command that exits once its process ended
// need not call it.
func (s *Signals) Stop() {
	s.Ready()
	if s.ch != nil {
		signal.Stop(s.ch)
	}
}

// waitForeground waits for a process agentd runs in the foreground,
// forwarding the signals caught on sigs ([CatchSignals]) to it, and returns
// its exit code. The caller stops sigs if it lives on.
func waitForeground(proc *libcontainer.Process, tty *foregroundTTY, sigs *Signals) (int, error) {
	if sigs == nil {
		sigs = NoSignals()
	}
	sigs.Ready()
	if tty != nil {
		if err := tty.attach(); err != nil {
			_ = proc.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			return -1, err
		}
	}
	done := make(chan struct{})
	var state *os.ProcessState
	var werr error
	go func() {
		state, werr = proc.Wait()
		close(done)
	}()
	for {
		select {
		case s := <-sigs.ch:
			switch s {
			case unix.SIGCHLD, unix.SIGWINCH, unix.SIGURG, unix.SIGPIPE:
				continue
			}
			_ = proc.Signal(s)
		case <-done:
			if tty != nil {
				tty.close()
			}
			if state == nil && werr != nil {
				return -1, fmt.Errorf("waiting for process: %w", werr)
			}
			return exitCode(state), nil
		}
	}
}
