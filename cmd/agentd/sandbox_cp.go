package main

import (
	"errors"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/agentd/agentd/supervisor/api"
)

var sandboxCpCommand = &cli.Command{
	Name:  "cp",
	Usage: "copy files between a sandbox and the host, like docker cp (needs tar in the sandbox)",
	ArgsUsage: "ID:/PATH LOCAL | LOCAL ID:/PATH\n\n" +
		"A local path containing ':' must start with ./ or /.",
	OnUsageError: sandboxUsageError,
	Action: sandboxAction(func(c *cli.Context) error {
		if err := sandboxArgs(c, 2, 2); err != nil {
			return err
		}
		srcRef, srcPath, srcIn := splitCpArg(c.Args().Get(0))
		dstRef, dstPath, dstIn := splitCpArg(c.Args().Get(1))
		if srcIn == dstIn {
			return errors.New("cp: exactly one of SRC and DST must be ID:/PATH")
		}
		cl, err := sandboxClient(c)
		if err != nil {
			return err
		}
		if srcIn {
			return cl.CopyFrom(c.Context, srcRef, srcPath, dstPath)
		}
		return cl.CopyTo(c.Context, dstRef, srcPath, dstPath)
	}),
}

// splitCpArg tells ID:/PATH from a local path.
func splitCpArg(arg string) (ref, p string, inSandbox bool) {
	ref, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") || api.ValidateID(ref) != nil {
		return "", arg, false
	}
	return ref, p, true
}
