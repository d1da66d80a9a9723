package supervisor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/agentd/agentd/supervisor/api"
)

func TestPeerAuthCheck(t *testing.T) {
	ctxFor := func(uid, gid uint32) context.Context {
		return context.WithValue(context.Background(), credKey{},
			peerCred{cred: &unix.Ucred{Pid: -1, Uid: uid, Gid: gid}})
	}
	auth := &PeerAuth{UIDs: []uint32{1000}, GIDs: []uint32{2000}}
	tests := []struct {
		name    string
		ctx     context.Context
		allowed bool
	}{
		{"root", ctxFor(0, 0), true},
		{"allowed uid", ctxFor(1000, 1000), true},
		{"allowed gid", ctxFor(1001, 2000), true},
		{"stranger", ctxFor(1001, 1001), false},
		{"no credentials", context.Background(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.Check(tt.ctx)
			if tt.allowed && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.allowed && !errors.Is(err, api.ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
		})
	}
}

func TestListenSocketMode(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "run", "agentd.sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sock, nil, 0o644); err != nil { // a stale leftover
		t.Fatal(err)
	}
	l, err := Listen(sock, &PeerAuth{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want socket 0600", st.Mode())
	}
}

func TestLockFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "daemon.lock")
	unlock, err := lockFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockFile(p); !errors.Is(err, api.ErrExist) {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock2, err := lockFile(p)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

// TestListenShared: an allowed uid owns the socket, an allowed gid is its
// group with mode 0660, and the directory becomes passable, so the kernel
// lets them connect.
func TestListenShared(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown of the socket needs root")
	}
	for _, tc := range []struct {
		auth          PeerAuth
		uid, gid      uint32
		mode, dirMode os.FileMode
	}{
		{PeerAuth{UIDs: []uint32{1000}}, 1000, 0, 0o600, 0o711},
		{PeerAuth{GIDs: []uint32{2000}}, 0, 2000, 0o660, 0o711},
	} {
		sock := filepath.Join(t.TempDir(), "run", "agentd.sock")
		l, err := Listen(sock, &tc.auth)
		if err != nil {
			t.Fatal(err)
		}
		var st, dir unix.Stat_t
		if err := unix.Stat(sock, &st); err != nil {
			t.Fatal(err)
		}
		if err := unix.Stat(filepath.Dir(sock), &dir); err != nil {
			t.Fatal(err)
		}
		l.Close()
		if st.Uid != tc.uid || st.Gid != tc.gid || os.FileMode(st.Mode).Perm() != tc.mode || os.FileMode(dir.Mode).Perm() != tc.dirMode {
			t.Errorf("%+v: socket %d:%d %o, dir %o; want %d:%d %o, dir %o", tc.auth, st.Uid, st.Gid,
				os.FileMode(st.Mode).Perm(), os.FileMode(dir.Mode).Perm(), tc.uid, tc.gid, tc.mode, tc.dirMode)
		}
	}
}

// TestPeerAuthSupplementaryGroup: a peer whose supplementary groups hold an
// allowed gid is allowed, read from its /proc status.
func TestPeerAuthSupplementaryGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starting a process with other groups needs root")
	}
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1001, Gid: 1001, Groups: []uint32{2000}}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	auth := &PeerAuth{GIDs: []uint32{2000}}
	ctx := context.WithValue(context.Background(), credKey{},
		peerCred{cred: &unix.Ucred{Pid: int32(cmd.Process.Pid), Uid: 1001, Gid: 1001}})
	if err := auth.Check(ctx); err != nil {
		t.Errorf("a member of allowed group 2000 (supplementary): %v", err)
	}
	if err := (&PeerAuth{GIDs: []uint32{3000}}).Check(ctx); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("no member of group 3000: %v, want ErrUnauthorized", err)
	}
}
