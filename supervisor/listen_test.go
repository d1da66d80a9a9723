package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
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
			if !tt.allowed && !errors.Is(err, ErrUnauthorized) {
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
	if _, err := lockFile(p); !errors.Is(err, ErrExist) {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock2, err := lockFile(p)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}
