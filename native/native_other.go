//go:build !linux

package native

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/agentd/agentd/bundle"
)

// HelperArg is the hidden command that runs the helper.
const HelperArg = "native-exec"

var errNotLinux = fmt.Errorf("%w: the native backend needs Linux (Landlock, seccomp, cgroups)", ErrUnsupported)

// Sandbox is a persistent native sandbox; this platform has none.
type Sandbox struct{}

// Execution is a running command; this platform has none.
type Execution struct{}

// Probe reports that this platform enforces nothing.
func Probe() Capabilities { return Capabilities{CgroupMode: "unavailable"} }

// HelperMain exits: there is no helper on this platform.
func HelperMain() {
	fmt.Fprintln(os.Stderr, "agentd native-exec:", errNotLinux)
	os.Exit(125)
}

// Run fails with ErrUnsupported.
func Run(context.Context, *bundle.Spec, Process) (*Result, error) { return nil, errNotLinux }

// RunIn is [Run] with the scratch dir's parent given.
func RunIn(context.Context, string, *bundle.Spec, Process) (*Result, error) { return nil, errNotLinux }

// Create fails with ErrUnsupported.
func Create(string, *bundle.Spec, string) (*Sandbox, error) { return nil, errNotLinux }

// Load fails with ErrUnsupported.
func Load(string, string) (*Sandbox, error) { return nil, errNotLinux }

func (s *Sandbox) ID() string                                         { return "" }
func (s *Sandbox) Scratch() string                                    { return "" }
func (s *Sandbox) Root() string                                       { return "" }
func (s *Sandbox) Report() Report                                     { return Report{} }
func (s *Sandbox) Start(context.Context, Process) (*Execution, error) { return nil, errNotLinux }
func (s *Sandbox) Exec(context.Context, Process) (*Result, error)     { return nil, errNotLinux }
func (s *Sandbox) Pause() error                                       { return errNotLinux }
func (s *Sandbox) Resume() error                                      { return errNotLinux }
func (s *Sandbox) Stats() (*Stats, error)                             { return nil, errNotLinux }
func (s *Sandbox) KillExec(string) error                              { return errNotLinux }
func (s *Sandbox) Destroy() error                                     { return nil }

func (e *Execution) ID() string                  { return "" }
func (e *Execution) Pid() int                    { return 0 }
func (e *Execution) Report() Report              { return Report{} }
func (e *Execution) Wait() (*Result, error)      { return nil, errNotLinux }
func (e *Execution) Kill() error                 { return errNotLinux }
func (e *Execution) Signal(syscall.Signal) error { return errNotLinux }
