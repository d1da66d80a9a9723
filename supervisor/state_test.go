package supervisor

import (
	"errors"
	"testing"
)

var allStates = []State{Creating, Running, Paused, Stopped, Failed, Removing}

func TestNext(t *testing.T) {
	// want lists, per op, the target state for every state that allows it;
	// every other state must refuse with ErrInvalidState.
	want := map[Op]map[State]State{
		OpCreated: {Creating: Running},
		OpFail:    {Creating: Failed, Running: Failed, Paused: Failed, Stopped: Failed, Removing: Failed},
		OpPause:   {Running: Paused},
		OpResume:  {Paused: Running},
		OpStop:    {Running: Stopped, Paused: Stopped},
		OpExec:    {Running: Running},
		OpStats:   {Running: Running, Paused: Paused},
		OpRemove:  {Running: Removing, Paused: Removing, Stopped: Removing, Failed: Removing},

		OpSnapshot:      {Running: Running, Paused: Paused},
		OpListSnapshots: {Running: Running, Paused: Paused, Stopped: Stopped, Failed: Failed},
		OpRestore:       {Running: Running, Paused: Running, Stopped: Running},
		OpFork:          {Running: Running, Paused: Paused, Stopped: Stopped},
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
				case !allowed && !errors.Is(err, ErrInvalidState):
					t.Fatalf("next(%s, %s) = %s, %v; want ErrInvalidState", from, op, got, err)
				case !allowed && got != from:
					t.Fatalf("a refused op changed the state to %s", got)
				}
			})
		}
	}
}

func TestNextUnknownOp(t *testing.T) {
	if _, err := next(Running, Op("explode")); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("unknown op: got %v", err)
	}
}

func TestNextErrorSaysWhy(t *testing.T) {
	_, err := next(Paused, OpExec)
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
	if State("exploded").Valid() || State("").Valid() {
		t.Error("bogus state valid")
	}
}
