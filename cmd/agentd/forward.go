package main

// Forwarded runs: `agentd sandbox run --backend native` is mostly the start
// of a 14 MB Go program (package initialisation and page faults: ~12 ms on
// a small VM, against ~5 ms for the run itself). When a daemon is up, the
// CLI does not start Go at all: a C constructor (forward_client.c) sends
// its arguments, environment, working directory and stdin, stdout and
// stderr (the descriptors themselves) to the daemon's run socket, next to
// its API socket, and waits for the exit code. The daemon parses the
// arguments with the CLI's own flags and runs the command with the same
// code as the CLI (runNative), writing to the caller's files. Anything the
// daemon does not take (another backend, a terminal, --help, a bad flag; a
// caller of another uid, in other namespaces, or under no_new_privs or
// seccomp) it declines before running anything, and the CLI goes on in Go
// as without a daemon. A caller's Landlock domain cannot be seen: a caller
// of the daemon's uid that Landlock confines reaches the daemon's API
// socket, and so sandboxes, anyway.
//
// Protocol, on a SOCK_SEQPACKET unix socket (one message per packet):
//
//	CLI → daemon: "agentd-run/1\0" cwd "\0" argc "\0" argv... env...
//	              (every string NUL-terminated), with fds 0, 1, 2 attached
//	daemon → CLI: "decline" (the CLI runs it itself) or "start"
//	CLI → daemon: "signal N" for each SIGINT, SIGTERM or SIGHUP it gets
//	daemon → CLI: "exit N", after which the CLI exits N
//
// The daemon kills the command if the CLI goes away (its socket closes).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/bundle"
)

const (
	forwardMagic = "agentd-run/1"
	// forwardMaxMsg bounds a request; the CLI does not forward larger ones.
	forwardMaxMsg = 1 << 20
)

// runSocketPath is the run socket of the daemon whose API socket is api.
// forward_client.c derives it the same way.
func runSocketPath(api string) string { return api + ".run" }

// forwardRequest is what a CLI sends.
type forwardRequest struct {
	cwd  string
	argv []string
	env  []string
}

// parseForwardRequest decodes a request packet.
func parseForwardRequest(msg []byte) (*forwardRequest, error) {
	if len(msg) == 0 || msg[len(msg)-1] != 0 {
		return nil, errors.New("not NUL-terminated")
	}
	fields := strings.Split(string(msg[:len(msg)-1]), "\x00")
	if len(fields) < 3 || fields[0] != forwardMagic {
		return nil, errors.New("not an agentd-run/1 request")
	}
	argc, err := strconv.Atoi(fields[2])
	if err != nil || argc < 1 || argc > len(fields)-3 {
		return nil, fmt.Errorf("bad argument count %q", fields[2])
	}
	return &forwardRequest{cwd: fields[1], argv: fields[3 : 3+argc], env: fields[3+argc:]}, nil
}

// getenv looks key up in the caller's environment.
func (r *forwardRequest) getenv(key string) string {
	for _, kv := range r.env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// tempDir is where the CLI itself would put the sandbox's scratch dir:
// os.TempDir() in the caller's environment.
func (r *forwardRequest) tempDir() string {
	if d := r.getenv("TMPDIR"); d != "" {
		return d
	}
	return "/tmp"
}

// forwardCapture is how the daemon parses a forwarded command line: the
// sandbox run action finds it in its context and, instead of running
// anything, hands over what it would run.
type forwardCapture struct {
	spec *bundle.Spec
	opts sandboxExecOptions
	ok   bool
}

type forwardCaptureKey struct{}

func forwardCaptureOf(ctx context.Context) *forwardCapture {
	fc, _ := ctx.Value(forwardCaptureKey{}).(*forwardCapture)
	return fc
}

// capture takes the run if the daemon can do it exactly as the CLI would:
// native backend, no terminal.
func (fc *forwardCapture) capture(spec *bundle.Spec, o sandboxExecOptions) {
	if spec.WithDefaults().Backend != bundle.BackendNative || o.req.Tty {
		return
	}
	fc.spec, fc.opts, fc.ok = spec, o, true
}

// forwardParseMu serialises parsing: the CLI's command and flag values are
// shared, and urfave/cli sets them up on every run.
var forwardParseMu sync.Mutex

// parseForwarded parses argv as `agentd sandbox … run …` with the CLI's
// own flags and returns what to run, or false when the CLI should run it
// itself. Nothing is printed and nothing is read: help, usage errors and
// `--spec -` all decline, and the CLI does them.
func parseForwarded(req *forwardRequest) (*forwardCapture, bool) {
	for i, a := range req.argv {
		if a == "--" {
			break
		}
		// A spec file named relative to the caller's working directory is
		// read by the CLI.
		f, ok := strings.CutPrefix(strings.TrimPrefix(a, "-"), "-spec=")
		if !ok && (a == "--spec" || a == "-spec") && i+1 < len(req.argv) {
			f, ok = req.argv[i+1], true
		}
		if ok && !filepath.IsAbs(f) {
			return nil, false
		}
	}
	forwardParseMu.Lock()
	defer forwardParseMu.Unlock()
	fc := &forwardCapture{}
	app := &cli.App{
		// Only `sandbox run`: no other action may run in the daemon.
		Name: "agentd", Flags: globalFlags, Commands: []*cli.Command{{
			Name: sandboxCommand.Name, Flags: sandboxCommand.Flags,
			Subcommands: []*cli.Command{sandboxRunCommand},
		}},
		Reader: strings.NewReader(""), Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
	}
	ctx := context.WithValue(context.Background(), forwardCaptureKey{}, fc)
	if err := app.RunContext(ctx, append([]string{"agentd"}, req.argv[1:]...)); err != nil || !fc.ok {
		return nil, false
	}
	return fc, true
}

// serveForwarded answers CLIs on the run socket next to api until ctx
// ends, then waits for the runs it started (ctx's end kills them).
func serveForwarded(ctx context.Context, api string, log *slog.Logger) {
	path := runSocketPath(api)
	_ = os.Remove(path)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		log.Warn("CLI runs will not be forwarded to this daemon", "socket", path, "err", err)
		return
	}
	l.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		log.Warn("CLI runs will not be forwarded to this daemon", "socket", path, "err", err)
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		conn, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("run socket", "err", err)
			}
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			if err := handleForwarded(ctx, conn, log); err != nil {
				log.Debug("forwarded run", "err", err)
			}
		}()
	}
}

// handleForwarded serves one CLI.
func handleForwarded(ctx context.Context, conn *net.UnixConn, log *slog.Logger) error {
	msg := make([]byte, forwardMaxMsg)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, flags, _, err := conn.ReadMsgUnix(msg, oob)
	if err != nil {
		return err
	}
	files, err := receivedFiles(oob[:oobn])
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	decline := func(why string) error {
		_, _ = conn.Write([]byte("decline"))
		return errors.New("declined: " + why)
	}
	switch {
	case err != nil:
		return decline(err.Error())
	case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
		return decline("request truncated")
	case len(files) != 3:
		return decline(fmt.Sprintf("%d files instead of stdin, stdout and stderr", len(files)))
	}
	cred, err := peerCred(conn)
	if err != nil || cred.Uid != uint32(os.Geteuid()) {
		// Another user's CLI runs its command itself, as that user.
		return decline("caller is not this daemon's user")
	}
	if why := unlikeDaemon(int(cred.Pid)); why != "" {
		return decline(why)
	}
	req, err := parseForwardRequest(msg[:n])
	if err != nil {
		return decline(err.Error())
	}
	fc, ok := parseForwarded(req)
	if !ok {
		return decline("not a native run without a terminal")
	}
	if _, err := conn.Write([]byte("start")); err != nil {
		return err
	}
	log.Debug("forwarded run", "args", fc.opts.req.Args)

	// The CLI's signals end the run as they end the CLI's own; so does
	// losing the CLI.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sig atomic.Int32
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := conn.Read(buf)
			if err != nil || n == 0 {
				cancel()
				return
			}
			if s, ok := bytes.CutPrefix(buf[:n], []byte("signal ")); ok {
				if v, err := strconv.Atoi(string(s)); err == nil && v > 0 && v < 65 {
					sig.CompareAndSwap(0, int32(v))
					cancel()
				}
			}
		}
	}()
	stderr := files[2]
	err = runNative(runCtx, fc.spec, fc.opts, cmdIO{files[0], files[1], stderr}, req.tempDir())
	switch {
	case sig.Load() != 0:
		err = &exitError{code: 128 + int(sig.Load())}
	case ctx.Err() != nil:
		err = errors.New("the daemon stopped while the command ran; the command was killed")
	}
	code := 0
	if err != nil {
		if code, ok = reportCoded(stderr, agentdFailed(err)); !ok {
			code = exitAgentd
		}
	}
	_, err = conn.Write([]byte("exit " + strconv.Itoa(code)))
	return err
}

// receivedFiles returns the files passed in a message's control data.
func receivedFiles(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "fd"+strconv.Itoa(len(files))))
		}
	}
	return files, nil
}

// peerCred is the pid and uid of the process at the other end of conn.
func peerCred(conn *net.UnixConn) (*unix.Ucred, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, credErr
}

// unlikeDaemon says why a command the daemon starts would not be in the
// same situation as one caller pid starts, or "" if it would: another
// namespace (its paths, network or processes are others), or a caller
// confined by no_new_privs or seccomp, which its own child would inherit.
func unlikeDaemon(pid int) string {
	proc := "/proc/" + strconv.Itoa(pid)
	for _, ns := range []string{"mnt", "net", "pid", "ipc", "uts", "user", "cgroup"} {
		theirs, err := os.Readlink(proc + "/ns/" + ns)
		if err != nil {
			return "caller's namespaces unknown: " + err.Error()
		}
		if ours, err := os.Readlink("/proc/self/ns/" + ns); err != nil || theirs != ours {
			return "caller is in another " + ns + " namespace"
		}
	}
	status, err := os.ReadFile(proc + "/status")
	if err != nil {
		return "caller's status unknown: " + err.Error()
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if v = strings.TrimSpace(v); (k == "NoNewPrivs" || k == "Seccomp") && v != "0" {
			return "caller runs with " + k + " " + v
		}
	}
	return ""
}
