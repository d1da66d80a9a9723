// Command agentd runs untrusted commands in sandboxes and is an OCI runtime
// that containerd, podman and anything speaking runc's command line can use.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	_ "github.com/agentd/agentd/cmd/agentd/internal/prefault"
	agentdruntime "github.com/agentd/agentd/runtime"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func init() {
	// libcontainer re-executes this binary as `agentd init` to set up the
	// container; that must happen before anything else runs.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		agentdruntime.Init()
	}
}

// commands is every command agentd has, in the order --help lists them.
var commands = []*cli.Command{
	createCommand, startCommand, runCommand, stateCommand, killCommand, deleteCommand,
	execCommand, psCommand, listCommand, pauseCommand, resumeCommand, eventsCommand,
	updateCommand, featuresCommand, specCommand, nativeExecCommand,
	sandboxCommand, daemonCommand,
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "agentd",
		Usage:   "sandboxes for AI agents, and an OCI runtime",
		Version: version,
		Description: `agentd is a runc-compatible OCI runtime: containerd (BinaryName), podman
(--runtime) and any tool that speaks runc's command line can use it in its place.`,
		Flags:                globalFlags,
		Commands:             commands,
		Before:               setupLogging,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // main reports errors
	}
}

var globalFlags = []cli.Flag{
	&cli.StringFlag{Name: "root", Value: agentdruntime.DefaultRoot, Usage: "directory for container state (tmpfs recommended)"},
	&cli.StringFlag{Name: "log", Usage: "write logs to this file instead of stderr (containerd reads errors from it)"},
	&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json (one JSON object per line)"},
	&cli.BoolFlag{Name: "debug", Usage: "log debug messages"},
	&cli.BoolFlag{Name: "systemd-cgroup", Usage: "create cgroups through systemd (cgroupsPath is slice:prefix:name); needs systemd as init"},
	&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors: true, false or auto (true when not root)"},
	&cli.StringFlag{Name: "criu", Hidden: true, Usage: "accepted for runc compatibility; checkpointing is not supported"},
}

func main() {
	app := newApp()
	err := app.Run(os.Args)
	os.Exit(report(err))
}

// report logs err (the log is where containerd looks for it), prints it to
// stderr if the log goes elsewhere, and returns the exit code.
func report(err error) int {
	if err == nil {
		return 0
	}
	if code, ok := reportCoded(os.Stderr, err); ok {
		return code
	}
	logrus.Error(err)
	if logrus.StandardLogger().Out != os.Stderr {
		fmt.Fprintln(os.Stderr, "agentd:", err)
	}
	return 1
}

// reportCoded prints err to stderr and returns its exit code if it carries
// one (the sandbox CLI's errors all do).
func reportCoded(stderr io.Writer, err error) (int, bool) {
	var coded interface{ ExitCode() int }
	if !errors.As(err, &coded) {
		return 0, false
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "agentd:", msg)
	}
	return coded.ExitCode(), true
}
