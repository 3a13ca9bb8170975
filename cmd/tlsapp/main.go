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
	words   []string // the words its first argument may be, for completion
}

// commands are tlsapp's subcommands, set in init: completion and man read
// the list.
var commands []command

func init() {
	commands = []command{
		{"demo", "a 1 MiB download for a 2048-byte device from one server, alone and behind tlsapp", runDemo, nil},
		{"get", "download a URL over HTTPS through the constrained client", runGet, nil},
		{"probe", "check whether a server suits a device that needs small TLS records", runProbe, nil},
		{"serve", "serve a directory over HTTPS with small TLS records", runServe, nil},
		{"edge", "serve an origin's files to modems through a caching edge with small TLS records", runEdge, nil},
		{"cred", "manage a credential store directory (import, list, show, rm)", runCred, []string{"import", "list", "show", "rm"}},
		{"completion", "print a shell completion script: bash or zsh", runCompletion, []string{"bash", "zsh"}},
		{"man", "print the manual page (roff; man -l <(tlsapp man))", runMan, nil},
	}
}

// env is what a subcommand writes to.
type env struct {
	stdout, stderr io.Writer
	json           bool     // --json: one JSON document on stdout instead of the human report
	help           *cmdHelp // the command's help, set by newFlagSet
}

// usageError is a mistake on the command line; it exits with status 2
// (exitUsage), or code when set (exitURL for a URL that cannot be used).
type usageError struct {
	msg  string
	code int
}

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

// urlErrorf is a usage error about the URL or address to connect to, which
// exits with curl's status for a malformed URL.
func urlErrorf(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...), code: exitURL}
}

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
		if args[1] == "exit-codes" {
			printExitCodes(stdout)
			return 0
		}
		for _, c := range commands {
			if c.name == args[1] {
				return runCommand(ctx, []string{c.name, "-h"}, stdout, stdout)
			}
		}
		fmt.Fprintf(stderr, "tlsapp help: no help on %q\nsee 'tlsapp help'\n", args[1])
		return exitUsage
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || (args[0] == "help" && len(args) == 1) {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		mainUsage(w)
		if len(args) == 0 {
			return exitUsage
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
			// Two lines: what was wrong, and where the help is.
			var ue usageError
			errors.As(err, &ue)
			fmt.Fprintf(stderr, "tlsapp %s: %v\nsee 'tlsapp help %s'\n", c.name, err, c.name)
			if ue.code != 0 {
				return ue.code
			}
			return exitUsage
		case errors.As(err, new(exitStatus)):
			var es exitStatus
			errors.As(err, &es)
			return int(es)
		case errors.Is(err, errReported):
			return exitFailed
		default:
			fmt.Fprintf(stderr, "tlsapp %s: %v\n", c.name, err)
			var se statusError
			if errors.As(err, &se) {
				return se.code
			}
			return exitFailed
		}
	}
	fmt.Fprintf(stderr, "tlsapp: unknown command %q\nsee 'tlsapp help'\n", args[0])
	return exitUsage
}

// errReported is returned by a command that has already explained its
// failure in its report: the exit status is 1 and nothing more is printed.
var errReported = errors.New("failure already reported")

// statusError is an error printed as it is, with the exit status code.
type statusError struct {
	err  error
	code int
}

func (e statusError) Error() string { return e.err.Error() }
func (e statusError) Unwrap() error { return e.err }

// withStatus gives err the exit status of a connection's or a download's
// failure (exitCodeOf), for get and probe; other commands exit 1.
func withStatus(err error) error {
	if err == nil || errors.As(err, new(usageError)) {
		return err
	}
	return statusError{err, exitCodeOf(err)}
}

// exitStatus ends a command whose report is printed with that status.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func mainUsage(w io.Writer) {
	fmt.Fprintf(w, "tlsapp is TLS for devices that can only hold small TLS records: a client, a server,\nan edge, and the tools to test them.\n\nUsage:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  tlsapp %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'tlsapp help COMMAND' (or 'tlsapp COMMAND -h') for a command's flags, 'tlsapp help exit-codes'\nfor the exit statuses, 'tlsapp --version' for the build. Start with 'tlsapp demo'.\n")
}

// cmdHelp is what a command's help is made of: the synopsis, the
// description and the flags. The help text, the man page and the shell
// completion scripts are all made from it.
type cmdHelp struct {
	name, synopsis, description string
	fs                          *flag.FlagSet
}

// newFlagSet returns a FlagSet for a subcommand with the --json flag; see
// newPlainFlagSet.
func newFlagSet(e *env, name, synopsis, description string) *flag.FlagSet {
	fs := newPlainFlagSet(e, name, synopsis, description)
	fs.BoolVar(&e.json, "json", false, "print a JSON report on stdout instead of the human one")
	return fs
}

// newPlainFlagSet returns a FlagSet for a subcommand whose help is made of
// synopsis, description and the flags (printHelp), and records that help
// in e.help.
func newPlainFlagSet(e *env, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("tlsapp "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	h := &cmdHelp{name: name, synopsis: synopsis, description: strings.TrimSpace(description), fs: fs}
	e.help = h
	fs.Usage = func() { printHelp(fs.Output(), h) }
	return fs
}

// parse parses args, allowing flags after positional arguments
// ("get URL -o file") and one-letter flags run together ("-fsS"), and
// returns the positional arguments. It prints the help on -h; a mistake is
// a usageError, printed by runCommand in two lines, not followed by the
// help.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	args, err := expandShort(fs, args)
	if err != nil {
		return nil, err
	}
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				usage()
				return nil, err
			}
			return nil, usageError{msg: err.Error()}
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

// expandShort splits a run of one-letter flags, as curl and getopt take
// them: "-fsSo FILE" is "-f -s -S -o FILE". Every letter must be a flag of
// fs and all but the last must be boolean. An argument that names a flag
// of fs as it is (-json, -o) or follows a flag that takes a value is left
// alone; an unknown flag is reported here, by its name.
func expandShort(fs *flag.FlagSet, args []string) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		if len(a) < 2 || a[0] != '-' || a == "-" {
			out = append(out, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		if f := fs.Lookup(name); f != nil || name == "h" || name == "help" {
			out = append(out, a)
			if f != nil && !hasValue && !isBool(f) {
				if i+1 == len(args) {
					return nil, usagef("%s needs a value", a)
				}
				i++
				out = append(out, args[i])
			}
			continue
		}
		if a[1] == '-' || hasValue {
			return nil, usagef("unknown flag %s", a)
		}
		expanded, err := splitShort(fs, a)
		if err != nil {
			return nil, err
		}
		out = append(out, expanded...)
		if f := fs.Lookup(a[len(a)-1:]); !isBool(f) {
			if i+1 == len(args) {
				return nil, usagef("-%s needs a value", f.Name)
			}
			i++
			out = append(out, args[i])
		}
	}
	return out, nil
}

// splitShort splits a run of one-letter flags, or says which letter is not
// one.
func splitShort(fs *flag.FlagSet, a string) ([]string, error) {
	var out []string
	for j := 1; j < len(a); j++ {
		f := fs.Lookup(a[j : j+1])
		switch {
		case f == nil && j == 1:
			return nil, usagef("unknown flag %s", a)
		case f == nil:
			return nil, usagef("unknown flag -%s (in %s)", a[j:j+1], a)
		case !isBool(f) && j != len(a)-1:
			return nil, usagef("-%s takes a value, so it must come last in %s", f.Name, a)
		}
		out = append(out, "-"+a[j:j+1])
	}
	return out, nil
}

// isBool reports whether f takes no value.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
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
func (l *listFlag) repeatable()    {}
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}
