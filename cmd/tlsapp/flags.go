package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// aliasValue is a flag registered under a second name (curl's spelling of
// one of tlsapp's flags): it sets the same value, and the help lists it
// beside the flag it stands for.
type aliasValue struct {
	flag.Value
	of string // the name of the flag it stands for
}

// IsBoolFlag makes an alias of a boolean flag take no value either.
func (a aliasValue) IsBoolFlag() bool {
	b, ok := a.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// alias registers names as other names of the flag of. Each must be new.
func alias(fs *flag.FlagSet, of string, names ...string) {
	f := fs.Lookup(of)
	for _, n := range names {
		fs.Var(aliasValue{f.Value, of}, n, "same as "+dash(of))
	}
}

// aliasWith registers name as another name of the flag of that sets it
// through v, which parses its own value: curl's "-C -" for --resume. The
// help shows it with placeholder.
func aliasWith(fs *flag.FlagSet, of, name string, v flag.Value, placeholder string) {
	fs.Var(aliasValue{v, of}, name, "`"+placeholder+"`: same as "+dash(of))
}

// aliasesOf returns the aliases of every flag of fs, by the flag's name.
func aliasesOf(fs *flag.FlagSet) map[string][]string {
	m := map[string][]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if a, ok := f.Value.(aliasValue); ok {
			m[a.of] = append(m[a.of], f.Name)
		}
	})
	return m
}

// dash spells a flag name as help shows it: -o, --output.
func dash(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// helpFlag is one flag as the help and the man page show it: its names
// spelled as on a command line (the shortest first), the placeholder of
// its value ("" for a boolean flag), its text and its default ("" when
// there is none to show).
type helpFlag struct {
	names       []string
	placeholder string
	usage       string
	def         string
}

// helpFlags returns the flags of fs, aliases folded into the flag they
// stand for, in the order of their names.
func helpFlags(fs *flag.FlagSet) []helpFlag {
	aliases := aliasesOf(fs)
	var out []helpFlag
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := f.Value.(aliasValue); ok {
			return
		}
		placeholder, usage := flag.UnquoteUsage(f)
		if isBool(f) {
			placeholder = ""
		}
		h := helpFlag{placeholder: placeholder, usage: usage}
		for _, n := range append([]string{f.Name}, aliases[f.Name]...) {
			spelled := dash(n)
			if a := fs.Lookup(n); n != f.Name && isBool(a) != isBool(f) {
				p, _ := flag.UnquoteUsage(a)
				spelled += " " + p
			}
			h.names = append(h.names, spelled)
		}
		sort.SliceStable(h.names, func(i, j int) bool { return len(h.names[i]) < len(h.names[j]) })
		switch f.DefValue {
		case "", "0", "0s", "false", "[]":
		default:
			if !strings.Contains(usage, "(default") {
				h.def = f.DefValue
			}
		}
		out = append(out, h)
	})
	// In the order of the letters, whatever their case: -o before -O.
	key := func(h helpFlag) string { return strings.ToLower(strings.TrimLeft(h.names[0], "-")) }
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

// spelled returns the flag's names as a command line spells them, with
// the placeholder: "-o, --output FILE|DIR".
func (h helpFlag) spelled() string {
	s := strings.Join(h.names, ", ")
	if h.placeholder != "" {
		s += " " + h.placeholder
	}
	return s
}

// printHelp prints a command's help: synopsis, description, flags.
func printHelp(w io.Writer, h *cmdHelp) {
	fmt.Fprintf(w, "Usage: tlsapp %s %s\n\n%s\n", h.name, h.synopsis, h.description)
	flags := helpFlags(h.fs)
	if len(flags) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags (-flag and --flag are the same):\n")
	for _, f := range flags {
		fmt.Fprintf(w, "  %s\n", f.spelled())
		usage := f.usage
		if f.def != "" {
			usage += fmt.Sprintf(" (default %s)", f.def)
		}
		for _, line := range wrap(usage, 72) {
			fmt.Fprintf(w, "        %s\n", line)
		}
	}
}

// wrap breaks s into lines of at most width bytes, between words.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// durationFlag is a time bound given as a Go duration ("1m30s") or, as
// curl takes its timeouts, a number of seconds ("90", "2.5").
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return "0s"
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, nerr := strconv.ParseFloat(s, 64)
		if nerr != nil || secs != secs || secs > float64(1<<62)/float64(time.Second) {
			return fmt.Errorf("want a duration (30s, 1m30s) or a number of seconds")
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return fmt.Errorf("must not be negative")
	}
	*f.d = d
	return nil
}
