package main

import "errors"

// exitError carries a sandbox CLI exit code to main, which exits with
// ExitCode() and prints Error() unless it is empty. code is either the
// command's own status (err nil: nothing to print; 124 timeout, 126, 127,
// 128+N) or 125 when agentd itself failed (err says what and how to fix it).
type exitError struct {
	code int
	err  error
}

// Exit codes of the sandbox CLI, as docker's.
const (
	exitAgentd = 125
)

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) ExitCode() int { return e.code }

func (e *exitError) Unwrap() error { return e.err }

// agentdFailed marks err as a failure of agentd itself (exit 125), unless it
// already carries an exit code.
func agentdFailed(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitAgentd, err: err}
}
