package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/supervisor/api"
)

// PeerAuth decides who may use the API: root always, and the uids and gids
// given with --allow-uid / --allow-gid. The peer's identity comes from
// SO_PEERCRED, taken by the kernel when the client connected.
type PeerAuth struct {
	UIDs []uint32
	GIDs []uint32
}

type credKey struct{}

// peerCred is what ConnContext learned about a connection.
type peerCred struct {
	cred *unix.Ucred
	err  error
}

// ConnContext stores the peer credentials of c in the connection's context;
// use it as [http.Server.ConnContext].
func (a *PeerAuth) ConnContext(ctx context.Context, c net.Conn) context.Context {
	pc := peerCred{err: errors.New("not a unix socket connection")}
	if uc, ok := c.(*net.UnixConn); ok {
		pc.cred, pc.err = PeerCred(uc)
	}
	return context.WithValue(ctx, credKey{}, pc)
}

// PeerCred is the pid, uid and gid of the process at the other end of c,
// as the kernel took them when it connected.
func PeerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, credErr
}

// Check refuses a request whose peer is not root nor allowed.
func (a *PeerAuth) Check(ctx context.Context) error {
	pc, ok := ctx.Value(credKey{}).(peerCred)
	if !ok || pc.err != nil {
		return fmt.Errorf("%w: cannot read the peer's credentials", api.ErrUnauthorized)
	}
	c := pc.cred
	if c.Uid == 0 || slices.Contains(a.UIDs, c.Uid) || slices.Contains(a.GIDs, c.Gid) {
		return nil
	}
	for _, g := range supplementaryGroups(int(c.Pid)) {
		if slices.Contains(a.GIDs, g) {
			return nil
		}
	}
	return fmt.Errorf("%w: uid %d gid %d may not use agentd (the daemon allows root, --allow-uid and --allow-gid)",
		api.ErrUnauthorized, c.Uid, c.Gid)
}

// supplementaryGroups reads the Groups line of /proc/<pid>/status.
func supplementaryGroups(pid int) []uint32 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil
	}
	var out []uint32
	for line := range strings.SplitSeq(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "Groups:")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			if g, err := strconv.ParseUint(f, 10, 32); err == nil {
				out = append(out, uint32(g))
			}
		}
	}
	return out
}

// Listen creates the API socket at path, mode 0600, replacing a stale one.
// The caller must hold the daemon lock, so a socket there is not live. An
// allowed uid becomes the socket's owner and an allowed gid its group (mode
// 0660), so that the kernel lets them connect; PeerAuth checks them again.
func Listen(path string, auth *PeerAuth) (net.Listener, error) {
	return ListenUnix("unix", path, auth)
}

// ListenUnix is [Listen] for network "unix" or "unixpacket"; with auth nil
// the socket is its owner's only.
func ListenUnix(network, path string, auth *PeerAuth) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating socket dir: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing stale socket: %w", err)
	}
	old := syscall.Umask(0o177)
	l, err := net.Listen(network, path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := shareSocket(dir, path, auth); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func shareSocket(dir, path string, auth *PeerAuth) error {
	if auth == nil || (len(auth.UIDs) == 0 && len(auth.GIDs) == 0) {
		return os.Chmod(path, 0o600)
	}
	uid, gid, mode := -1, -1, os.FileMode(0o600)
	if len(auth.UIDs) > 0 {
		uid = int(auth.UIDs[0])
	}
	if len(auth.GIDs) > 0 {
		gid, mode = int(auth.GIDs[0]), 0o660
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("sharing socket: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	// Others need to reach the socket through its directory.
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	return os.Chmod(dir, st.Mode().Perm()|0o111)
}
