package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

func TestRecoverAfterCrash(t *testing.T) {
	s1, fb, dir := testSup(t)
	ctx := context.Background()
	a := mustCreate(t, s1, "a").ID
	b := mustCreate(t, s1, "b").ID
	if _, err := s1.Pause(ctx, b); err != nil {
		t.Fatal(err)
	}
	// An exec in flight when the daemon "dies": s1 is simply abandoned.
	started := make(chan api.ExecInfo, 1)
	go s1.Exec(ctx, a, &api.ExecRequest{Args: []string{"sleep", "30"}},
		ExecIO{Started: func(e api.ExecInfo) { started <- e }})
	inflight := <-started

	s2, err := New(dir, []Backend{fb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	infoA, err := s2.Inspect("a")
	if err != nil || infoA.State != api.Running || len(infoA.Execs) != 0 ||
		len(infoA.Interrupted) != 1 || infoA.Interrupted[0].ID != inflight.ID {
		t.Fatalf("a after restart: %+v, %v", infoA, err)
	}
	if got := fb.get(a).killedExec; len(got) != 1 || got[0] != inflight.ID {
		t.Fatalf("interrupted execs killed: %v", got)
	}
	if infoB, _ := s2.Inspect(b); infoB.State != api.Paused {
		t.Fatalf("b after restart: %s", infoB.State)
	}
	if res, out, _ := run(t, s2, a, &api.ExecRequest{Args: []string{"echo", "alive"}}); res.Code != 0 || out != "alive\n" {
		t.Fatalf("exec after restart: %+v %q", res, out)
	}
}

func TestRecoverEdgeCases(t *testing.T) {
	s1, fb, dir := testSup(t)
	ctx := context.Background()
	gone := mustCreate(t, s1, "gone").ID
	fb.get(gone).destroyed = true // the backend lost it (e.g. host reboot)
	removing := mustCreate(t, s1, "removing")
	b, _ := s1.lookup(removing.ID)
	b.rec.State = api.Removing
	s1.store.save(&b.rec)
	// A creation the daemon never finished: only the journal is there.
	half := &record{ID: "half0000", Backend: "container", State: api.Creating}
	if err := s1.store.begin(half, &bundle.Spec{}); err != nil {
		t.Fatal(err)
	}
	// A directory with garbage in it.
	os.MkdirAll(filepath.Join(dir, "sandboxes", "junk"), 0o700)
	os.WriteFile(filepath.Join(dir, "sandboxes", "junk", "state.json"), []byte("{"), 0o600)

	s2, err := New(dir, []Backend{fb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]api.State{gone: api.Failed, "half0000": api.Failed, "junk": api.Failed}
	got := map[string]api.State{}
	for _, i := range s2.List() {
		got[i.ID] = i.State
	}
	if len(got) != len(want) {
		t.Fatalf("sandboxes %v, want %v (the removing one finished)", got, want)
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("%s: %s, want %s", id, got[id], st)
		}
		if err := s2.Remove(ctx, id, false); err != nil {
			t.Errorf("rm %s: %v", id, err)
		}
	}
	assertEmpty(t, s2, dir)
}
