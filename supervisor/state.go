package supervisor

import (
	"fmt"
	"slices"
	"strings"
)

// State is a sandbox's lifecycle state. It is persisted in state.json.
type State string

// The lifecycle states.
const (
	// Creating: the backend is building the sandbox.
	Creating State = "creating"
	// Running: commands can be executed.
	Running State = "running"
	// Paused: every process of the sandbox is frozen.
	Paused State = "paused"
	// Stopped: the sandbox's processes are gone; it can only be removed.
	Stopped State = "stopped"
	// Failed: creation, recovery or removal went wrong; it can only be removed.
	Failed State = "failed"
	// Removing: the backend is tearing the sandbox down.
	Removing State = "removing"
)

// Op is an operation on a sandbox, checked against the transition table.
type Op string

// The operations.
const (
	OpCreated Op = "created" // the backend finished creating
	OpFail    Op = "fail"    // something broke; keep the sandbox for inspection and rm
	OpPause   Op = "pause"
	OpResume  Op = "resume"
	OpStop    Op = "stop" // the sandbox's processes died
	OpExec    Op = "exec"
	OpStats   Op = "stats"
	OpRemove  Op = "remove"
	// Snapshots of the sandbox's file system (container backend).
	OpSnapshot      Op = "snapshot"       // take one; a running sandbox is frozen meanwhile
	OpListSnapshots Op = "list snapshots" // list or delete them
	OpRestore       Op = "restore"        // stop, swap the file system back, start again
	OpFork          Op = "fork"           // start a new sandbox from this one's state
)

// transition says from which states an operation is allowed and which state
// it leads to; to == "" means the state does not change.
type transition struct {
	from []State
	to   State
}

// transitions is the one lifecycle table: every API call that depends on a
// sandbox's state is checked against it by [next]. A new sandbox starts in
// Creating; a removed one leaves the table (its state directory is deleted).
var transitions = map[Op]transition{
	OpCreated: {from: []State{Creating}, to: Running},
	OpFail:    {from: []State{Creating, Running, Paused, Stopped, Removing}, to: Failed},
	OpPause:   {from: []State{Running}, to: Paused},
	OpResume:  {from: []State{Paused}, to: Running},
	OpStop:    {from: []State{Running, Paused}, to: Stopped},
	OpExec:    {from: []State{Running}},
	OpStats:   {from: []State{Running, Paused}},
	OpRemove:  {from: []State{Running, Paused, Stopped, Failed}, to: Removing},

	OpSnapshot:      {from: []State{Running, Paused}},
	OpListSnapshots: {from: []State{Running, Paused, Stopped, Failed}},
	OpRestore:       {from: []State{Running, Paused, Stopped}, to: Running},
	OpFork:          {from: []State{Running, Paused, Stopped}},
}

// next returns the state op leads to from cur, or an error wrapping
// [ErrInvalidState] that says which states would have allowed it.
func next(cur State, op Op) (State, error) {
	t, ok := transitions[op]
	if !ok {
		return cur, fmt.Errorf("unknown operation %q: %w", op, ErrInvalidState)
	}
	if !slices.Contains(t.from, cur) {
		allowed := make([]string, len(t.from))
		for i, s := range t.from {
			allowed[i] = string(s)
		}
		return cur, fmt.Errorf("cannot %s a sandbox that is %s (allowed when %s): %w",
			op, cur, strings.Join(allowed, " or "), ErrInvalidState)
	}
	if t.to == "" {
		return cur, nil
	}
	return t.to, nil
}

// Valid reports whether s is one of the lifecycle states.
func (s State) Valid() bool {
	switch s {
	case Creating, Running, Paused, Stopped, Failed, Removing:
		return true
	}
	return false
}
