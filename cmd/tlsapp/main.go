package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/tlsapp/tlsapp/internal/buildinfo"
)

// A command is one subcommand of tlsapp.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

var commands = []command{
	{"demo", "download a 1 MiB image from an embedded HTTPS server with 2048-byte records", runDemo},
	{"get", "download a URL over HTTPS through the constrained client", runGet},
	{"probe", "check whether a server suits a device that needs small TLS records", runProbe},
	{"serve", "serve a directory over HTTPS with small TLS records", runServe},
	{"edge", "serve an origin's files to modems through a caching edge with small TLS records", runEdge},
	{"cred", "manage a credential store directory (import, list, show, rm)", runCred},
}

// env is what a subcommand writes to.
type env struct {
	stdout, stderr io.Writer
	json           bool // --json: one JSON document on stdout instead of the human report
}

// usageError is a mistake on the command line; it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if s, ok := (<-sigs).(syscall.Signal); ok {
			cancel(signalError{s})
		}
		signal.Stop(sigs) // a second signal kills the process
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// signalError is the cause of the context's end when a signal stopped the
// command; the exit status is then 128 + the signal's number (130 for
// SIGINT), as shells report it.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return "interrupted by " + e.sig.String() }

// version is what --version prints: the module version and VCS revision
// the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "tlsapp (unknown version)"
	}
	v := "tlsapp " + buildinfo.Version()
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v += " (modified)"
			}
		}
	}
	return v + " " + bi.GoVersion
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	code := runCommand(ctx, args, stdout, stderr)
	var se signalError
	if code != 0 && errors.As(context.Cause(ctx), &se) {
		return 128 + int(se.sig)
	}
	return code
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		fmt.Fprintln(stdout, version())
		return 0
	}
	if len(args) == 2 && args[0] == "help" {
		// tlsapp help CMD: the command's own help, on stdout.
		for _, c := range commands {
			if c.name == args[1] {
				return runCommand(ctx, []string{c.name, "-h"}, stdout, stdout)
			}
		}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		mainUsage(w)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		e := &env{stdout: stdout, stderr: stderr}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "tlsapp %s: %v\n(run 'tlsapp %s -h' for help)\n", c.name, err, c.name)
			return 2
		case errors.As(err, new(exitStatus)):
			var es exitStatus
			errors.As(err, &es)
			return int(es)
		case errors.Is(err, errReported):
			return 1
		default:
			fmt.Fprintf(stderr, "tlsapp %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "tlsapp: unknown command %q\n", args[0])
	mainUsage(stderr)
	return 2
}

// errReported is returned by a command that has already explained its
// failure in its report: the exit status is 1 and nothing more is printed.
var errReported = errors.New("failure already reported")

// exitStatus ends a command whose report is printed with that status.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func mainUsage(w io.Writer) {
	fmt.Fprintf(w, "tlsapp is a TLS client for devices that can only hold small TLS records.\n\nUsage:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  tlsapp %-6s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'tlsapp help COMMAND' (or 'tlsapp COMMAND -h') for a command's flags, 'tlsapp --version'\nfor the build. Start with 'tlsapp demo'.\n")
}

// newFlagSet returns a FlagSet for a subcommand with the --json flag and a
// usage text made of synopsis, description and the flag defaults.
func newFlagSet(e *env, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("tlsapp "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.BoolVar(&e.json, "json", false, "print a JSON report on stdout instead of the human one")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: tlsapp %s %s\n\n%s\n\nFlags (-flag and --flag are the same):\n", name, synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, allowing flags after positional arguments
// ("get URL -o file"), and returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// emitJSON writes v as indented JSON on stdout.
func (e *env) emitJSON(v any) error { return e.emitJSONTo(e.stdout, v) }

// emitJSONTo writes v as indented JSON on w.
func (e *env) emitJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}
