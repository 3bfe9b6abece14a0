package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"sort"
	"syscall"
)

// version is passerelle's version, set at build time with
// -ldflags "-X main.version=...".
var version = "dev"

// env is how a command reads its environment.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"dev", "run everything on this machine: embedded NATS, emulators, workers", devUsage, runDev},
		{"run", "run the production worker (configured by environment variables)", runUsage, runRun},
		{"emulate", "run an administration API emulator for tests", emulateUsage, runEmulate},
		{"publish", "publish a submit event from event data, a PDF, a flow or a declaration file", publishUsage, runPublish},
		{"watch", "print status events as they arrive", watchUsage, runWatch},
		{"validate", "check a PASRAU declaration file", validateUsage, runValidate},
		{"dlq", "list, show, replay or purge dead letters", dlqUsage, runDLQ},
		{"status", "show a submission's whole history", statusUsage, runStatus},
		{"bench", "measure passerelle against a baseline on an embedded stack", benchUsage, runBench},
		{"healthcheck", "check that a running passerelle is alive (the image's HEALTHCHECK)", healthcheckUsage, runHealthcheck},
	}
}

// usageError is a mistake in the command line; the exit code is 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// run is the whole program: main only calls it, and tests call it with a fake
// environment. It stops everything cleanly on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if rest := args[min(1, len(args)):]; len(rest) > 0 {
			for _, c := range commands() {
				if c.name == rest[0] {
					fmt.Fprint(stdout, c.usage)
					return nil
				}
			}
		}
		printHelp(stdout)
		if len(args) == 0 {
			return &usageError{"a subcommand is required"}
		}
		return nil
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(stdout, "passerelle", version)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			if errors.Is(err, errHelp) {
				return nil
			}
			return err
		}
	}
	return &usageError{fmt.Sprintf("unknown subcommand %q (see passerelle --help)", args[0])}
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `passerelle submits invoices to Chorus Pro and declarations to PASRAU from
CloudEvents on NATS JetStream, follows them to the administration's final answer
and publishes status events.

Usage:
  passerelle <subcommand> [flags]

Subcommands:
`)
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `  version     print the version

Run "passerelle <subcommand> --help" for a subcommand's flags and examples.
`)
}

// parseFlags parses args with fs, printing usage on -h. It returns a usageError on
// a bad flag.
func parseFlags(fs *flag.FlagSet, usage string, e env, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, usage)
			return errHelp
		}
		return &usageError{fmt.Sprintf("%s: %v\n\n%s", fs.Name(), err, usage)}
	}
	return nil
}

// errHelp is returned by parseFlags after printing help: the command does nothing.
var errHelp = errors.New("help printed")
