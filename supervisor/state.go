package supervisor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agentd/agentd/supervisor/api"
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
	from []api.State
	to   api.State
}

// transitions is the one lifecycle table: every API call that depends on a
// sandbox's state is checked against it by [next]. A new sandbox starts in
// Creating; a removed one leaves the table (its state directory is deleted).
var transitions = map[Op]transition{
	OpCreated: {from: []api.State{api.Creating}, to: api.Running},
	OpFail:    {from: []api.State{api.Creating, api.Running, api.Paused, api.Stopped, api.Removing}, to: api.Failed},
	OpPause:   {from: []api.State{api.Running}, to: api.Paused},
	OpResume:  {from: []api.State{api.Paused}, to: api.Running},
	OpStop:    {from: []api.State{api.Running, api.Paused}, to: api.Stopped},
	OpExec:    {from: []api.State{api.Running}},
	OpStats:   {from: []api.State{api.Running, api.Paused}},
	OpRemove:  {from: []api.State{api.Running, api.Paused, api.Stopped, api.Failed}, to: api.Removing},

	OpSnapshot:      {from: []api.State{api.Running, api.Paused}},
	OpListSnapshots: {from: []api.State{api.Running, api.Paused, api.Stopped, api.Failed}},
	OpRestore:       {from: []api.State{api.Running, api.Paused, api.Stopped}, to: api.Running},
	OpFork:          {from: []api.State{api.Running, api.Paused, api.Stopped}},
}

// next returns the state op leads to from cur, or an error wrapping
// [ErrInvalidState] that says which states would have allowed it.
func next(cur api.State, op Op) (api.State, error) {
	t, ok := transitions[op]
	if !ok {
		return cur, fmt.Errorf("unknown operation %q: %w", op, api.ErrInvalidState)
	}
	if !slices.Contains(t.from, cur) {
		allowed := make([]string, len(t.from))
		for i, s := range t.from {
			allowed[i] = string(s)
		}
		return cur, fmt.Errorf("cannot %s a sandbox that is %s (allowed when %s): %w",
			op, cur, strings.Join(allowed, " or "), api.ErrInvalidState)
	}
	if t.to == "" {
		return cur, nil
	}
	return t.to, nil
}
