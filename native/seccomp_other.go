//go:build !linux || !seccomp

package native

import "fmt"

// seccompLibrary is false: this build has no libseccomp (build tag
// `seccomp` missing), so [Probe] reports seccomp as not enforceable.
const seccompLibrary = false

var errNoSeccomp = fmt.Errorf("%w: agentd was built without seccomp support (build tag seccomp, needs libseccomp)", ErrUnsupported)

func loadSeccomp(seccompPolicy) error { return errNoSeccomp }

func seccompProgram(seccompPolicy) ([]byte, error) { return nil, errNoSeccomp }
