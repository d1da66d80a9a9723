package main

import (
	"github.com/urfave/cli/v2"

	agentdruntime "github.com/agentd/agentd/runtime"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print what this agentd supports, as OCI features JSON",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		return writeJSON(c, agentdruntime.Features())
	},
}
