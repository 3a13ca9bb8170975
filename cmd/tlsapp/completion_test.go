package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needTool returns the path of a program a test needs: in CI (CI=true) its
// absence fails the test, elsewhere it skips, saying what to install.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing: apt-get install -y %s (.ci/run installs it)", name, pkg)
	}
	t.Skipf("%s is missing: apt-get install -y %s", name, pkg)
	return ""
}

// TestCompletionBash loads the bash script as the README says,
// source <(tlsapp completion bash), and completes with it: command names,
// get's flags (curl's spellings among them), a flag's directory value, and
// cred's subcommands.
func TestCompletionBash(t *testing.T) {
	bash := needTool(t, "bash", "bash")
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "store-dir"), 0o755)
	os.WriteFile(filepath.Join(dir, "store-file"), nil, 0o644)
	script := `set -e
tlsapp() { "$TLSAPP" "$@"; }
source <(tlsapp completion bash)
complete -p tlsapp
c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _tlsapp; echo "$*: ${COMPREPLY[*]}"; }
c tlsapp p
c tlsapp get --ret
c tlsapp get --co
c tlsapp get -
c tlsapp get --store store-
c tlsapp cred ""
c tlsapp help exit
c tlsapp completion ""
`
	cmd := exec.Command(bash, "--norc", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TLSAPP="+binPath)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("bash: %v\n%s%s", err, out.String(), stderr.String())
	}
	t.Logf("%s", out.String())
	for _, want := range []string{
		"complete -F _tlsapp tlsapp\n",
		"tlsapp p: probe\n",
		"tlsapp get --ret: --retries --retry\n",
		"tlsapp get --co: --continue-at --connect-timeout\n",
		"tlsapp get --store store-: store-dir\n", // --store takes a DIR
		"tlsapp cred : import list show rm\n",
		"tlsapp help exit: exit-codes\n",
		"tlsapp completion : bash zsh\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bash completion: no %q", want)
		}
	}
	var flags string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "tlsapp get -: ") {
			flags = " " + strings.TrimPrefix(l, "tlsapp get -: ") + " "
		}
	}
	for _, f := range []string{"-o", "--output", "-O", "-C", "-s", "-v", "-H", "--header", "-f", "--fail", "--cacert", "-m", "--max-time", "--resume", "--device-limit"} {
		if !strings.Contains(flags, " "+f+" ") {
			t.Errorf("bash completion of get's flags lacks %s: %s", f, flags)
		}
	}
}

// TestCompletionZsh loads the zsh script after compinit, as the README
// says, and as an autoloaded _tlsapp in $fpath.
func TestCompletionZsh(t *testing.T) {
	zsh := needTool(t, "zsh", "zsh")
	dir := t.TempDir()
	r := runBin(t, "completion", "zsh")
	if r.code != 0 {
		t.Fatalf("completion zsh: status %d", r.code)
	}
	os.WriteFile(filepath.Join(dir, "_tlsapp"), []byte(r.stdout), 0o644)
	for _, script := range []string{
		`autoload -Uz compinit && compinit -u -d "$DIR/zcompdump" && source <("$TLSAPP" completion zsh) && print -r -- "$_comps[tlsapp]"`,
		`fpath=("$DIR" $fpath) && autoload -Uz compinit && compinit -u -d "$DIR/zcompdump2" && print -r -- "$_comps[tlsapp]"`,
	} {
		cmd := exec.Command(zsh, "-f", "-c", script)
		cmd.Env = append(os.Environ(), "TLSAPP="+binPath, "DIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "_tlsapp" {
			t.Errorf("zsh %q: %v\n%s", script, err, out)
		}
	}
	if out, err := exec.Command(zsh, "-n", filepath.Join(dir, "_tlsapp")).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
}

// TestManPage renders 'tlsapp man' with man -l, with groff's warnings on:
// it must render without one, with every command, get's curl spellings and
// the exit statuses.
func TestManPage(t *testing.T) {
	man := needTool(t, "man", "man-db")
	r := runBin(t, "man")
	if r.code != 0 {
		t.Fatalf("tlsapp man: status %d", r.code)
	}
	page := filepath.Join(t.TempDir(), "tlsapp.1")
	os.WriteFile(page, []byte(r.stdout), 0o644)
	cmd := exec.Command(man, "--warnings", "-l", page)
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=100", "MAN_KEEP_FORMATTING=")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("man -l: %v\n%s", err, stderr.String())
	}
	text := out.String()
	for _, want := range []string{"TLSAPP(1)", "NAME", "SYNOPSIS", "tlsapp get [flags] URL", "tlsapp completion bash|zsh",
		"-o, --output FILE|DIR", "-C -, --resume, --continue-at -", "--retry, --retries N", "-m, --max-time DURATION",
		"EXIT STATUS", "60 (curl)", "110", "128+N"} {
		if !strings.Contains(text, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
	for _, h := range commandHelps(t.Context()) {
		if !strings.Contains(text, "tlsapp "+h.name) {
			t.Errorf("the man page lacks tlsapp %s", h.name)
		}
	}
}
