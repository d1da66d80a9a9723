package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	agentdruntime "github.com/agentd/agentd/runtime"
)

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "write an example config.json into the bundle directory",
	Description: `Writes a config.json that runs sh in ./rootfs with every namespace and the
default mounts; edit it, put a root file system in rootfs, then "agentd run ID".`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "directory to write config.json into (default: current)"},
		&cli.BoolFlag{Name: "rootless", Usage: "a config for a non-root user (user namespace, no cgroups)"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		path := filepath.Join(c.String("bundle"), "config.json")
		data, err := json.MarshalIndent(agentdruntime.ExampleSpec(c.Bool("rootless")), "", "\t")
		if err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s already exists: remove it first", path)
			}
			return err
		}
		if _, err := f.Write(append(data, '\n')); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	},
}
