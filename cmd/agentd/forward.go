package main

// Forwarded runs: `agentd sandbox run` is, before anything runs, the start
// of a 14 MB Go program (package initialisation and page faults: ~12 ms on
// a small VM, against ~5 ms for a native run itself and a second start of
// the binary, `agentd init`, for a container). When a daemon is up, the
// CLI does not start Go at all: a C constructor (forward_client.c) sends
// its arguments, its TMPDIR and its stdin, stdout and stderr (the
// descriptors themselves) to the daemon's run socket, next to its API
// socket, and waits for the exit code. The daemon parses the arguments with
// the CLI's own flags and runs the command with the same code as the CLI
// (runNative, or runContainerOnce with the CLI's --state-dir and --socket),
// writing to the caller's files.
//
// The daemon declines, before running anything, what it would not do as
// the CLI would: a terminal, --spec (a file the daemon would open), --help
// or a bad flag; a caller of another uid, in other
// namespaces, with another umask or other rlimits, or under no_new_privs or
// seccomp (its own child would inherit those). The CLI then goes on in Go
// as without a daemon. A caller's Landlock domain cannot be seen: a caller
// of the daemon's uid that Landlock confines reaches the daemon's API
// socket, and so sandboxes, anyway.
//
// Protocol, on a SOCK_SEQPACKET unix socket (one message per packet):
//
//	CLI → daemon: "agentd-run/2\0" TMPDIR "\0" argc "\0" argv...
//	              (every string NUL-terminated), with fds 0, 1, 2 attached
//	daemon → CLI: "decline" (the CLI runs it itself) or "start"
//	CLI → daemon: "signal N" for each SIGINT, SIGTERM or SIGHUP it gets
//	daemon → CLI: "exit N", after which the CLI exits N
//
// The daemon kills the command if the CLI goes away (its socket closes):
// also when another signal ends the CLI, where a CLI running a container
// itself would pass that signal to the container's process.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/bundle"
	agentdruntime "github.com/agentd/agentd/runtime"
	"github.com/agentd/agentd/supervisor"
)

const (
	forwardMagic = "agentd-run/2"
	// forwardMaxMsg bounds a request; the CLI does not forward larger ones.
	forwardMaxMsg = 1 << 20
	// forwardReadTimeout bounds the wait for a request once connected.
	forwardReadTimeout = 5 * time.Second
)

// runSocketPath is the run socket of the daemon whose API socket is api.
// forward_client.c derives it the same way.
func runSocketPath(api string) string { return api + ".run" }

// forwardRequest is what a CLI sends.
type forwardRequest struct {
	tmpdir string // the caller's $TMPDIR
	argv   []string
}

// parseForwardRequest decodes a request packet.
func parseForwardRequest(msg []byte) (*forwardRequest, error) {
	if len(msg) == 0 || msg[len(msg)-1] != 0 {
		return nil, errors.New("not NUL-terminated")
	}
	fields := strings.Split(string(msg[:len(msg)-1]), "\x00")
	if len(fields) < 3 || fields[0] != forwardMagic {
		return nil, errors.New("not an " + forwardMagic + " request")
	}
	argc, err := strconv.Atoi(fields[2])
	if err != nil || argc < 1 || argc != len(fields)-3 {
		return nil, fmt.Errorf("bad argument count %q", fields[2])
	}
	return &forwardRequest{tmpdir: fields[1], argv: fields[3:]}, nil
}

// tempDir is where the CLI itself would put the sandbox's scratch dir:
// os.TempDir() in the caller's environment.
func (r *forwardRequest) tempDir() string {
	if r.tmpdir != "" {
		return r.tmpdir
	}
	return "/tmp"
}

// forwardCapture is how the daemon parses a forwarded command line: the
// sandbox run action finds it in its context and, instead of running
// anything, hands over what it would run.
type forwardCapture struct {
	spec *bundle.Spec
	opts sandboxExecOptions
	// stateDir and runDir are the CLI's (--state-dir, --socket's
	// directory): a container run's bundle and container state go there,
	// as when the CLI runs it itself.
	stateDir, runDir string
	ok               bool
}

type forwardCaptureKey struct{}

func forwardCaptureOf(ctx context.Context) *forwardCapture {
	fc, _ := ctx.Value(forwardCaptureKey{}).(*forwardCapture)
	return fc
}

// capture takes the run if the daemon can do it exactly as the CLI would:
// no terminal (with one, the CLI goes through the daemon's API).
func (fc *forwardCapture) capture(spec *bundle.Spec, o sandboxExecOptions, stateDir, runDir string) {
	if o.req.Tty {
		return
	}
	fc.spec, fc.opts, fc.stateDir, fc.runDir, fc.ok = spec, o, stateDir, runDir, true
}

// forwardParseMu serialises parsing: the CLI's command and flag values are
// shared, and urfave/cli sets them up on every run.
var (
	forwardParseMu  sync.Mutex
	forwardParseApp *cli.App // made once, used under forwardParseMu
)

// parseForwarded parses argv as `agentd sandbox … run …` with the CLI's
// own flags and returns what to run, or false when the CLI should run it
// itself. Nothing is printed and nothing is read: help, usage errors and
// any --spec (the run action declines it before reading) go back to the
// CLI.
func parseForwarded(req *forwardRequest) (*forwardCapture, bool) {
	forwardParseMu.Lock()
	defer forwardParseMu.Unlock()
	if forwardParseApp == nil {
		forwardParseApp = &cli.App{
			// Only `sandbox run`: no other action may run in the daemon.
			Name: "agentd", Flags: globalFlags, Commands: []*cli.Command{{
				Name: sandboxCommand.Name, Flags: withoutEnvVars(sandboxCommand.Flags),
				Subcommands: []*cli.Command{sandboxRunCommand},
			}},
			Reader: strings.NewReader(""), Writer: io.Discard, ErrWriter: io.Discard,
			ExitErrHandler: func(*cli.Context, error) {},
		}
	}
	fc := &forwardCapture{}
	ctx := context.WithValue(context.Background(), forwardCaptureKey{}, fc)
	if err := forwardParseApp.RunContext(ctx, append([]string{"agentd"}, req.argv[1:]...)); err != nil || !fc.ok {
		return nil, false
	}
	return fc, true
}

// withoutEnvVars copies flags without their environment variables: those
// would be the daemon's. The CLI sends its own as flags (forward_client.c).
func withoutEnvVars(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, 0, len(flags))
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			c := *f
			c.EnvVars = nil
			out = append(out, &c)
		case *cli.BoolFlag:
			c := *f
			c.EnvVars = nil
			out = append(out, &c)
		default:
			out = append(out, f)
		}
	}
	return out
}

// listenForwarded creates the run socket next to api (mode 0600) and
// returns what answers CLIs on it until ctx ends, then waits for the runs it
// started (ctx's end kills them); nil if the socket cannot be made.
func listenForwarded(api string, log *slog.Logger) func(ctx context.Context) {
	path := runSocketPath(api)
	daemon, err := situationOf("/proc/self")
	if err != nil {
		log.Warn("CLI runs will not be forwarded to this daemon", "err", err)
		return nil
	}
	l, err := supervisor.ListenUnix("unixpacket", path, nil)
	if err != nil {
		log.Warn("CLI runs will not be forwarded to this daemon", "socket", path, "err", err)
		return nil
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(true)
	return func(ctx context.Context) {
		var wg sync.WaitGroup
		defer wg.Wait()
		stop := context.AfterFunc(ctx, func() { ul.Close() })
		defer stop()
		for {
			conn, err := ul.AcceptUnix()
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("run socket", "err", err)
				}
				ul.Close()
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				if err := handleForwarded(ctx, conn, daemon, log); err != nil {
					log.Debug("run not forwarded, or not to its end", "err", err)
				}
			}()
		}
	}
}

// handleForwarded serves one CLI.
func handleForwarded(ctx context.Context, conn *net.UnixConn, daemon *situation, log *slog.Logger) error {
	msg := make([]byte, forwardMaxMsg)
	oob := make([]byte, unix.CmsgSpace(3*4))
	_ = conn.SetReadDeadline(time.Now().Add(forwardReadTimeout))
	n, oobn, flags, _, err := conn.ReadMsgUnix(msg, oob)
	if err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Time{})
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
	cred, err := supervisor.PeerCred(conn)
	if err != nil || cred.Uid != uint32(os.Geteuid()) {
		// Another user's CLI runs its command itself, as that user.
		return decline("caller is not this daemon's user")
	}
	caller, err := situationOf("/proc/" + strconv.Itoa(int(cred.Pid)))
	if err != nil {
		return decline("caller's situation unknown: " + err.Error())
	}
	if why := daemon.unlike(caller); why != "" {
		return decline(why)
	}
	req, err := parseForwardRequest(msg[:n])
	if err != nil {
		return decline(err.Error())
	}
	fc, ok := parseForwarded(req)
	if !ok {
		return decline("not a sandbox run without a terminal")
	}
	if _, err := conn.Write([]byte("start")); err != nil {
		return err
	}
	// One line per run taken, as for an API call: who asked, what backend.
	log.Info("forwarded run", "pid", cred.Pid, "backend", fc.spec.WithDefaults().Backend)
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
	cio := cmdIO{files[0], files[1], stderr}
	if fc.spec.WithDefaults().Backend == bundle.BackendNative {
		err = runNative(runCtx, fc.spec, fc.opts, cio, req.tempDir())
	} else {
		// The CLI relays the signals that end a run (above); the
		// daemon's own go to no command.
		err = runContainerOnce(runCtx, fc.spec, fc.opts, cio, fc.stateDir, fc.runDir, agentdruntime.NoSignals())
	}
	switch {
	case sig.Load() != 0:
		err = &exitError{code: 128 + int(sig.Load())}
	case ctx.Err() != nil:
		err = errors.New("the daemon stopped while the command ran; the command was killed")
	}
	code := 0
	if err != nil {
		code, _ = reportCoded(stderr, agentdFailed(err))
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

// situation is what a process hands on to a child it starts and what a
// forwarded run must find the same in the daemon: namespaces, umask,
// rlimits, and whether no_new_privs or a seccomp filter confine it.
type situation struct {
	namespaces []string
	status     map[string]string // Umask, NoNewPrivs, Seccomp
	limits     map[string]string
}

var situationNamespaces = []string{"mnt", "net", "pid", "ipc", "uts", "user", "cgroup"}

// situationOf reads the situation of the process whose /proc directory is
// proc.
func situationOf(proc string) (*situation, error) {
	s := &situation{}
	for _, ns := range situationNamespaces {
		link, err := os.Readlink(proc + "/ns/" + ns)
		if err != nil {
			return nil, err
		}
		s.namespaces = append(s.namespaces, link)
	}
	var err error
	if s.status, err = procLines(proc+"/status", "Umask", "NoNewPrivs", "Seccomp"); err != nil {
		return nil, err
	}
	// Open files and core size: the native backend sets both itself (and
	// Go raises the daemon's open files).
	s.limits, err = procLimits(proc+"/limits", []string{"Max open files", "Max core file size"})
	return s, err
}

// unlike says why a command the daemon (situation d) starts would not be
// in the situation the caller's own child would be, or "".
func (d *situation) unlike(caller *situation) string {
	for i, ns := range situationNamespaces {
		if caller.namespaces[i] != d.namespaces[i] {
			return "caller is in another " + ns + " namespace"
		}
	}
	switch {
	case caller.status["Umask"] != d.status["Umask"]:
		return "caller has umask " + caller.status["Umask"]
	case caller.status["NoNewPrivs"] != "0" || caller.status["Seccomp"] != "0":
		return "caller runs with no_new_privs or seccomp"
	case !maps.Equal(caller.limits, d.limits):
		return "caller has other rlimits"
	}
	return ""
}

// procLines returns the values of keys in a "Key:\tvalue" file such as
// /proc/<pid>/status; a missing key is an error.
func procLines(path string, keys ...string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(keys))
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if slices.Contains(keys, k) {
			out[k] = strings.TrimSpace(v)
		}
	}
	if len(out) != len(keys) {
		return nil, fmt.Errorf("%s: %v not all there", path, keys)
	}
	return out, nil
}

// procLimits reads /proc/<pid>/limits into name → "soft hard units",
// without the limits named in skip.
func procLimits(path string, skip []string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		if len(line) < 26 || slices.Contains(skip, strings.TrimSpace(line[:26])) {
			continue
		}
		out[strings.TrimSpace(line[:26])] = strings.Join(strings.Fields(line[26:]), " ")
	}
	return out, nil
}
