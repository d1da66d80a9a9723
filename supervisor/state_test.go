package supervisor

import (
	"errors"
	"testing"

	"github.com/agentd/agentd/supervisor/api"
)

var allStates = []api.State{api.Creating, api.Running, api.Paused, api.Stopped, api.Failed, api.Removing}

func TestNext(t *testing.T) {
	// want lists, per op, the target state for every state that allows it;
	// every other state must refuse with ErrInvalidState.
	want := map[Op]map[api.State]api.State{
		OpCreated: {api.Creating: api.Running},
		OpFail:    {api.Creating: api.Failed, api.Running: api.Failed, api.Paused: api.Failed, api.Stopped: api.Failed, api.Removing: api.Failed},
		OpPause:   {api.Running: api.Paused},
		OpResume:  {api.Paused: api.Running},
		OpStop:    {api.Running: api.Stopped, api.Paused: api.Stopped},
		OpExec:    {api.Running: api.Running},
		OpStats:   {api.Running: api.Running, api.Paused: api.Paused},
		OpRemove:  {api.Running: api.Removing, api.Paused: api.Removing, api.Stopped: api.Removing, api.Failed: api.Removing},

		OpSnapshot:      {api.Running: api.Running, api.Paused: api.Paused},
		OpListSnapshots: {api.Running: api.Running, api.Paused: api.Paused, api.Stopped: api.Stopped, api.Failed: api.Failed},
		OpRestore:       {api.Running: api.Running, api.Paused: api.Running, api.Stopped: api.Running},
		OpFork:          {api.Running: api.Running, api.Paused: api.Paused, api.Stopped: api.Stopped},
	}
	if len(want) != len(transitions) {
		t.Fatalf("the test covers %d ops, the table has %d", len(want), len(transitions))
	}
	for op, targets := range want {
		for _, from := range allStates {
			t.Run(string(op)+"/"+string(from), func(t *testing.T) {
				got, err := next(from, op)
				to, allowed := targets[from]
				switch {
				case allowed && err != nil:
					t.Fatalf("next(%s, %s) = %v, want %s", from, op, err, to)
				case allowed && got != to:
					t.Fatalf("next(%s, %s) = %s, want %s", from, op, got, to)
				case !allowed && !errors.Is(err, api.ErrInvalidState):
					t.Fatalf("next(%s, %s) = %s, %v; want ErrInvalidState", from, op, got, err)
				case !allowed && got != from:
					t.Fatalf("a refused op changed the state to %s", got)
				}
			})
		}
	}
}

func TestNextUnknownOp(t *testing.T) {
	if _, err := next(api.Running, Op("explode")); !errors.Is(err, api.ErrInvalidState) {
		t.Fatalf("unknown op: got %v", err)
	}
}

func TestNextErrorSaysWhy(t *testing.T) {
	_, err := next(api.Paused, OpExec)
	if got, want := err.Error(), "cannot exec a sandbox that is paused (allowed when running): operation not allowed in this state"; got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestStateValid(t *testing.T) {
	for _, s := range allStates {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	if api.State("exploded").Valid() || api.State("").Valid() {
		t.Error("bogus state valid")
	}
}
