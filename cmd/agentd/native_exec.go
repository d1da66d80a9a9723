package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/native"
)

func init() {
	// The native backend re-executes this binary as `agentd native-exec`
	// with its policy on fd 3 and an empty environment. The helper must
	// run before the CLI parses flags or sets up logging: it owns the
	// process from here and never returns.
	if len(os.Args) > 1 && os.Args[1] == native.HelperArg {
		native.HelperMain()
	}
}

// nativeExecCommand is the native backend's helper. It is reached through
// init above before urfave/cli runs; the command only keeps the name
// reserved and listed in the command table.
var nativeExecCommand = &cli.Command{
	Name:   native.HelperArg,
	Hidden: true,
	Usage:  "internal: apply a native sandbox's restrictions and execute its command",
	Action: func(*cli.Context) error {
		native.HelperMain() // never returns
		return nil
	},
}
