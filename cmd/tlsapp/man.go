package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

func runMan(ctx context.Context, e *env, args []string) error {
	fs := newPlainFlagSet(e, "man", "", `
Prints the manual page in roff (man(7)), made from the help of every command
and the table of exit statuses. To read it: man -l <(tlsapp man). To install
it: tlsapp man > /usr/local/share/man/man1/tlsapp.1`)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("man takes no arguments")
	}
	writeMan(e.stdout, commandHelps(ctx))
	return nil
}

// writeMan writes the manual page: the commands with their descriptions
// and flags, then the exit statuses.
func writeMan(w io.Writer, hs []*cmdHelp) {
	fmt.Fprintf(w, ".\\\" Made by 'tlsapp man' from the commands' help; do not edit.\n")
	fmt.Fprintf(w, ".TH TLSAPP 1 \"\" \"tlsapp\" \"User Commands\"\n.nh\n.ad l\n")
	fmt.Fprintf(w, ".SH NAME\ntlsapp \\- small TLS records for devices: download, probe, serve, edge\n")
	fmt.Fprintf(w, ".SH SYNOPSIS\n")
	for _, h := range hs {
		fmt.Fprintf(w, ".B tlsapp %s\n", h.name)
		if h.synopsis != "" {
			fmt.Fprintf(w, "%s\n", roff(h.synopsis))
		}
		fmt.Fprintf(w, ".br\n")
	}
	fmt.Fprintf(w, ".SH DESCRIPTION\n")
	fmt.Fprintf(w, "tlsapp is a TLS client, server and edge for devices that can only hold small TLS records, and the tool to test them.\n")
	fmt.Fprintf(w, "Each command prints its help with \\fB\\-h\\fR or \\fBtlsapp help\\fR \\fIcommand\\fR; a flag is spelled \\fB\\-flag\\fR or \\fB\\-\\-flag\\fR alike.\n")
	fmt.Fprintf(w, ".SH COMMANDS\n")
	for _, h := range hs {
		fmt.Fprintf(w, ".SS \"tlsapp %s %s\"\n", h.name, strings.ReplaceAll(roff(h.synopsis), `"`, `\(dq`))
		manText(w, h.description)
		flags := helpFlags(h.fs)
		if len(flags) == 0 {
			continue
		}
		fmt.Fprintf(w, ".PP\nFlags:\n")
		for _, f := range flags {
			var names []string
			for _, n := range f.names {
				name, arg, _ := strings.Cut(n, " ")
				s := `\fB` + roff(name) + `\fR`
				if arg != "" {
					s += ` \fI` + roff(arg) + `\fR`
				}
				names = append(names, s)
			}
			head := strings.Join(names, ", ")
			if f.placeholder != "" {
				head += ` \fI` + roff(f.placeholder) + `\fR`
			}
			usage := f.usage
			if f.def != "" {
				usage += fmt.Sprintf(" (default %s)", f.def)
			}
			fmt.Fprintf(w, ".TP\n%s\n%s\n", head, roff(usage))
		}
	}
	fmt.Fprintf(w, ".SH \"EXIT STATUS\"\n")
	fmt.Fprintf(w, "curl's number where the failure is the same as curl's (marked curl); the project's own from 110.\n")
	for _, d := range exitDocs {
		code := fmt.Sprint(d.code)
		if d.code == exitSignal {
			code = "128+N"
		}
		if d.curl {
			code += " (curl)"
		}
		fmt.Fprintf(w, ".TP\n.B %s\n%s\n", code, roff(d.meaning))
	}
	fmt.Fprintf(w, ".SH \"SEE ALSO\"\nThe README of the module github.com/tlsapp/tlsapp, and \\fBcurl\\fR(1), whose spellings \\fBtlsapp get\\fR accepts.\n")
}

// manText writes a description: paragraphs separated by blank lines, and
// indented lines (examples) kept as they are.
func manText(w io.Writer, text string) {
	for _, para := range strings.Split(text, "\n\n") {
		lines := strings.Split(para, "\n")
		if strings.HasPrefix(lines[0], "  ") {
			fmt.Fprintf(w, ".PP\n.nf\n.RS 2\n")
			for _, l := range lines {
				fmt.Fprintf(w, "%s\n", roff(strings.TrimPrefix(l, "  ")))
			}
			fmt.Fprintf(w, ".RE\n.fi\n")
			continue
		}
		fmt.Fprintf(w, ".PP\n")
		for _, l := range lines {
			fmt.Fprintf(w, "%s\n", roff(l))
		}
	}
}

// roff escapes text for a roff line: backslashes, hyphens (a minus sign in
// a flag), and a leading dot or quote, which would start a request.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
