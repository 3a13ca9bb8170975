package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandHelps returns the help of every command, as each command's own
// FlagSet has it: each is run with -h and its output thrown away.
func commandHelps(ctx context.Context) []*cmdHelp {
	var hs []*cmdHelp
	for _, c := range commands {
		e := &env{stdout: io.Discard, stderr: io.Discard}
		c.run(ctx, e, []string{"-h"})
		if e.help != nil {
			hs = append(hs, e.help)
		}
	}
	return hs
}

// wordsOf returns the words c's first argument may be.
func wordsOf(name string) []string {
	for _, c := range commands {
		if c.name == name {
			return c.words
		}
	}
	return nil
}

func runCompletion(ctx context.Context, e *env, args []string) error {
	fs := newPlainFlagSet(e, "completion", "bash|zsh", `
Prints a completion script for bash or zsh, made from the flags of every
command as their help lists them. To load it in the running shell:

  source <(tlsapp completion bash)
  source <(tlsapp completion zsh)    # after compinit

or save it where the shell loads completions from: for bash
/etc/bash_completion.d/tlsapp or ~/.local/share/bash-completion/completions/tlsapp,
for zsh a file named _tlsapp in a folder of $fpath.`)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("completion takes one shell: bash or zsh")
	}
	switch pos[0] {
	case "bash":
		writeBash(e.stdout, commandHelps(ctx))
	case "zsh":
		writeZsh(e.stdout, commandHelps(ctx))
	default:
		return usagef("completion knows bash and zsh, not %q", pos[0])
	}
	return nil
}

// compFlag is a flag as a completion script offers it.
type compFlag struct {
	spellings   []string // -o, --output
	placeholder string   // "" for a boolean flag
	usage       string
	repeatable  bool
}

// compFlags returns the flags of fs, each with its aliases.
func compFlags(fs *flag.FlagSet) []compFlag {
	aliases := aliasesOf(fs)
	var out []compFlag
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := f.Value.(aliasValue); ok {
			return
		}
		placeholder, usage := flag.UnquoteUsage(f)
		if isBool(f) {
			placeholder = ""
		}
		_, rep := f.Value.(interface{ repeatable() })
		c := compFlag{placeholder: placeholder, usage: usage, repeatable: rep}
		for _, n := range append([]string{f.Name}, aliases[f.Name]...) {
			if a := fs.Lookup(n); isBool(a) != isBool(f) {
				// An alias that parses a value of its own (-C -).
				p, _ := flag.UnquoteUsage(a)
				out = append(out, compFlag{spellings: []string{dash(n)}, placeholder: p, usage: usage})
				continue
			}
			c.spellings = append(c.spellings, dash(n))
		}
		out = append(out, c)
	})
	return out
}

// valueKind says how to complete a flag's value from its placeholder: "dir",
// "file" or "" (nothing to offer).
func valueKind(placeholder string) string {
	switch {
	case strings.Contains(placeholder, "FILE"):
		return "file"
	case strings.Contains(placeholder, "DIR"):
		return "dir"
	}
	return ""
}

func writeBash(w io.Writer, hs []*cmdHelp) {
	var names []string
	for _, h := range hs {
		names = append(names, h.name)
	}
	fmt.Fprintf(w, `# bash completion for tlsapp; made by 'tlsapp completion bash' from the
# commands' flags. Load with: source <(tlsapp completion bash)
_tlsapp() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "%s help --version" -- "$cur"))
		return
	fi
	local flags="" values="" dirs="" files="" words=""
	case "${COMP_WORDS[1]}" in
	help)
		[ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "%s exit-codes" -- "$cur"))
		return
		;;
`, strings.Join(names, " "), strings.Join(names, " "))
	for _, h := range hs {
		var flags, values, dirs, files []string
		for _, f := range compFlags(h.fs) {
			flags = append(flags, f.spellings...)
			if f.placeholder == "" {
				continue
			}
			values = append(values, f.spellings...)
			switch valueKind(f.placeholder) {
			case "dir":
				dirs = append(dirs, f.spellings...)
			case "file":
				files = append(files, f.spellings...)
			}
		}
		fmt.Fprintf(w, "\t%s)\n", h.name)
		fmt.Fprintf(w, "\t\tflags=%q\n\t\tvalues=%q\n\t\tdirs=%q\n\t\tfiles=%q\n\t\twords=%q\n\t\t;;\n",
			strings.Join(flags, " "), " "+strings.Join(values, " ")+" ", " "+strings.Join(dirs, " ")+" ",
			" "+strings.Join(files, " ")+" ", strings.Join(wordsOf(h.name), " "))
	}
	fmt.Fprint(w, `	esac
	if [[ "$values" == *" $prev "* ]]; then
		if [[ "$dirs" == *" $prev "* ]]; then
			COMPREPLY=($(compgen -d -- "$cur"))
		elif [[ "$files" == *" $prev "* ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
	fi
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	elif [ -n "$words" ] && [ "$COMP_CWORD" -eq 2 ]; then
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _tlsapp tlsapp
`)
}

func writeZsh(w io.Writer, hs []*cmdHelp) {
	fmt.Fprint(w, `#compdef tlsapp
# zsh completion for tlsapp; made by 'tlsapp completion zsh' from the
# commands' flags. Load with: source <(tlsapp completion zsh), after compinit,
# or save as _tlsapp in a folder of $fpath.
_tlsapp() {
	local -a commands
	commands=(
`)
	for _, c := range commands {
		fmt.Fprintf(w, "\t\t%s\n", zshQuote(c.name+":"+c.summary))
	}
	fmt.Fprintf(w, "\t\t%s\n\t)\n", zshQuote("help:print the help of a command, or the exit statuses"))
	fmt.Fprint(w, `	if (( CURRENT == 2 )); then
		_describe -t commands 'tlsapp command' commands
		return
	fi
	local cmd=$words[2]
	shift words
	(( CURRENT-- ))
	case $cmd in
	help)
		_values command ${commands%%:*} exit-codes
		;;
`)
	for _, h := range hs {
		fmt.Fprintf(w, "\t%s)\n\t\t_arguments -s -S \\\n", h.name)
		for _, f := range compFlags(h.fs) {
			fmt.Fprintf(w, "\t\t\t%s \\\n", zshSpec(f))
		}
		if words := wordsOf(h.name); len(words) > 0 {
			fmt.Fprintf(w, "\t\t\t%s \\\n", zshQuote("1:"+h.name+" subcommand:("+strings.Join(words, " ")+")"))
		}
		fmt.Fprintf(w, "\t\t\t%s\n\t\t;;\n", zshQuote("*:argument:_files"))
	}
	fmt.Fprint(w, `	esac
}
if [ "$funcstack[1]" = "_tlsapp" ]; then
	_tlsapp "$@"
else
	compdef _tlsapp tlsapp
fi
`)
}

// zshSpec is f as an _arguments spec:
// '(-o --output)'{-o,--output}'[text]:FILE:_files'.
func zshSpec(f compFlag) string {
	text := f.usage
	if i := strings.IndexAny(text, ";("); i > 0 {
		text = text[:i]
	}
	text = strings.NewReplacer("[", "(", "]", ")", ":", " -", "\\", "").Replace(strings.TrimSpace(text))
	spec := "[" + text + "]"
	if f.placeholder != "" {
		action := ""
		switch valueKind(f.placeholder) {
		case "file":
			action = "_files"
		case "dir":
			action = "_files -/"
		}
		spec += ":" + strings.ReplaceAll(f.placeholder, ":", " ") + ":" + action
	}
	names := f.spellings
	if len(names) == 1 {
		prefix := ""
		if f.repeatable {
			prefix = "*"
		}
		return zshQuote(prefix + names[0] + spec)
	}
	prefix := "(" + strings.Join(names, " ") + ")"
	if f.repeatable {
		prefix = "*"
	}
	return zshQuote(prefix) + "{" + strings.Join(names, ",") + "}" + zshQuote(spec)
}

// zshQuote quotes s for zsh in single quotes.
func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
