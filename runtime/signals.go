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

// CatchSignals starts catching every signal agentd gets, for
// [Process.WaitForeground] to forward to the process: call it before
// starting the process, so that a signal that comes meanwhile (Ctrl-C, a
// TERM from a supervisor) is forwarded once it runs instead of killing
// agentd half-way. WaitForeground stops catching.
func CatchSignals() chan os.Signal {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	return sigs
}

// waitForeground waits for a process agentd runs in the foreground,
// forwarding the signals caught on sigs ([CatchSignals]) to it, and returns
// its exit code.
func waitForeground(proc *libcontainer.Process, tty *foregroundTTY, sigs chan os.Signal) (int, error) {
	defer signal.Stop(sigs)
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
		case s := <-sigs:
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
