package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/golden"
)

// TestCurlSpellings: each of curl's spellings that get accepts parses to
// the same command (URL, destination, download options, client and trace
// flags) as the project's own flag for it; -f, -S and -L, which name what
// get always does, to the same command as nothing.
func TestCurlSpellings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	out := filepath.Join(dir, "out.bin")
	ca := filepath.Join(dir, "ca.pem")
	const url = "https://127.0.0.1:8443/fw.bin"
	for _, tc := range []struct {
		curl, own []string
	}{
		{[]string{"--output", out}, []string{"-o", out}},
		{[]string{"-O"}, []string{"-o", "."}},
		{[]string{"--remote-name"}, []string{"-o", "."}},
		{[]string{"-o", out, "-C", "-"}, []string{"-o", out, "--resume"}},
		{[]string{"-o", out, "--continue-at", "-"}, []string{"-o", out, "--resume"}},
		{[]string{"--retry", "3"}, []string{"--retries", "3"}},
		{[]string{"--retry=0"}, []string{"--retries", "0"}},
		{[]string{"-s"}, []string{"--silent"}},
		{[]string{"-v"}, []string{"--trace"}},
		{[]string{"--verbose"}, []string{"--trace"}},
		{[]string{"--header", "Authorization: Bearer t"}, []string{"-H", "Authorization: Bearer t"}},
		{[]string{"-H", "X-A: 1", "--header", "X-A: 2"}, []string{"-H", "X-A: 1", "-H", "X-A: 2"}},
		{[]string{"-f"}, nil},
		{[]string{"--fail"}, nil},
		{[]string{"-S", "--show-error"}, nil},
		{[]string{"-L", "--location"}, nil},
		{[]string{"--cacert", ca}, []string{"--ca", ca}},
		{[]string{"--connect-timeout", "5"}, []string{"--timeout", "5s"}},
		{[]string{"--connect-timeout", "2.5"}, []string{"--timeout", "2500ms"}},
		{[]string{"-m", "90"}, []string{"--max-time", "1m30s"}},
		{[]string{"--max-time", "0.5"}, []string{"--max-time", "500ms"}},
		{[]string{"-fsSL"}, []string{"--silent"}},
		{[]string{"-fsSLo", out}, []string{"--silent", "-o", out}},
		{[]string{"-sC", "-", "-o", out}, []string{"--silent", "--resume", "-o", out}},
	} {
		name := strings.Join(tc.curl, " ")
		t.Run(name, func(t *testing.T) {
			curl, err := parseGet(&env{stdout: io.Discard, stderr: io.Discard}, append(tc.curl, url))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			own, err := parseGet(&env{stdout: io.Discard, stderr: io.Discard}, append(tc.own, url))
			if err != nil {
				t.Fatalf("%s: %v", strings.Join(tc.own, " "), err)
			}
			if tc.own == nil && !curl.g.always {
				t.Errorf("%s is not registered", name)
			}
			// -f, -S, -L: what get always does; -O: its destination is
			// compared, -o . resolved.
			curl.g.always, own.g.always = false, false
			curl.g.remoteName, curl.g.out, own.g.out = false, "", ""
			if !reflect.DeepEqual(curl, own) {
				t.Errorf("%s parses to\n%+v\n%s to\n%+v", name, *curl, strings.Join(tc.own, " "), *own)
			}
		})
	}
}

// TestRetrySemantics: --retry (--retries) bounds the retries within one
// run, whether or not --resume is given, and 0 turns them off.
func TestRetrySemantics(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fw.bin")
	for _, tc := range []struct {
		args    []string
		retries int
		resume  bool
	}{
		{nil, 5, false},
		{[]string{"--retry", "2"}, 2, false},
		{[]string{"--retry", "2", "--resume"}, 2, true},
		{[]string{"--retries", "0"}, -1, false}, // download.Options: negative is none
		{[]string{"-C", "-"}, 5, true},
	} {
		c, err := parseGet(&env{stdout: io.Discard, stderr: io.Discard}, append(tc.args, "-o", out, "https://127.0.0.1/fw.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if c.opt.Retries != tc.retries || c.opt.Resume != tc.resume {
			t.Errorf("%v: Retries %d, Resume %v; want %d, %v", tc.args, c.opt.Retries, c.opt.Resume, tc.retries, tc.resume)
		}
	}
}

// TestDurationFlag: a Go duration or curl's seconds; neither negative nor
// anything else.
func TestDurationFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "2.5": 2500 * time.Millisecond, "0": 0, "1m30s": 90 * time.Second, "250ms": 250 * time.Millisecond} {
		var d time.Duration
		if err := (durationFlag{&d}).Set(in); err != nil || d != want {
			t.Errorf("%q: %v, %v; want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"", "-1", "-1s", "NaN", "Inf", "1e300", "five", "5 s"} {
		var d time.Duration
		if err := (durationFlag{&d}).Set(in); err == nil {
			t.Errorf("%q accepted as %v", in, d)
		}
	}
}

// TestHelpGolden checks get's help, 'tlsapp help exit-codes' and the main
// usage against golden files (-update rewrites them).
func TestHelpGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"get.txt", []string{"help", "get"}},
		{"exit-codes.txt", []string{"help", "exit-codes"}},
		{"tlsapp.txt", []string{"help"}},
	} {
		r := runBin(t, tc.args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("tlsapp %v: status %d, stderr %q", tc.args, r.code, r.stderr)
		}
		golden.Check(t, filepath.Join("testdata", "help", tc.file), []byte(r.stdout), *update)
	}
	// -h prints the same help, on stderr.
	if r := runBin(t, "get", "-h"); r.code != 0 || r.stderr != runBin(t, "help", "get").stdout {
		t.Errorf("get -h: status %d, and not the help of 'tlsapp help get'", r.code)
	}
}

// TestUsageErrors: a mistake on the command line is two lines on stderr,
// what was wrong and where the help is, for every command; the output is
// checked against a golden file (-update rewrites it).
func TestUsageErrors(t *testing.T) {
	var b bytes.Buffer
	check := func(name string, code int, args ...string) {
		t.Helper()
		r := runBin(t, args...)
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		help := "see 'tlsapp help'"
		if name != "" {
			help = fmt.Sprintf("see 'tlsapp help %s'", name)
		}
		if r.code != code || len(lines) != 2 || lines[1] != help || r.stdout != "" {
			t.Errorf("tlsapp %v: status %d, stdout %q, stderr %q; want %d and two lines ending %q", args, r.code, r.stdout, r.stderr, code, help)
		}
		fmt.Fprintf(&b, "$ tlsapp %s\n%s[status %d]\n\n", strings.Join(args, " "), r.stderr, r.code)
	}
	for _, c := range commands {
		check(c.name, exitUsage, c.name, "--no-such-flag")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		code int
		args []string
	}{
		{exitUsage, []string{"get"}},
		{exitUsage, []string{"get", "https://127.0.0.1/a", "https://127.0.0.1/b"}},
		{exitURL, []string{"get", "http://127.0.0.1/fw.bin"}},
		{exitUsage, []string{"get", "-k", "https://127.0.0.1/fw.bin"}},
		{exitUsage, []string{"get", "-fsSk", "https://127.0.0.1/fw.bin"}},
		{exitUsage, []string{"get", "-of", "x", "https://127.0.0.1/fw.bin"}},
		{exitUsage, []string{"get", "--retry"}},
		{exitUsage, []string{"get", "--retry", "many", "https://127.0.0.1/fw.bin"}},
		{exitUsage, []string{"get", "-C", "100", "-o", filepath.Join(dir, "x"), "https://127.0.0.1/fw.bin"}},
		{exitUsage, []string{"get", "-C", "-", "https://127.0.0.1/fw.bin"}},
		{exitUsage, []string{"get", "-O", "-o", filepath.Join(dir, "x"), "https://127.0.0.1/fw.bin"}},
		{exitUsage, []string{"get", "--connect-timeout", "-1", "https://127.0.0.1/fw.bin"}},
		{exitUsage, []string{"get", "-H", "no colon", "https://127.0.0.1/fw.bin"}},
		{exitURL, []string{"probe", "ftp://127.0.0.1/"}},
		{exitUsage, []string{"cred"}},
		{exitUsage, []string{"completion", "fish"}},
	} {
		check(tc.args[0], tc.code, tc.args...)
	}
	check("", exitUsage, "nonsense")
	check("", exitUsage, "help", "nonsense")
	golden.Check(t, filepath.Join("testdata", "help", "usage-errors.txt"), bytes.ReplaceAll(b.Bytes(), []byte(dir), []byte("DIR")), *update)
}

// TestProbePathDefault: probe's help gives the default of -path once.
func TestProbePathDefault(t *testing.T) {
	r := runBin(t, "help", "probe")
	i := strings.Index(r.stdout, "\n  --path PATH\n")
	if i < 0 {
		t.Fatalf("no --path in probe's help:\n%s", r.stdout)
	}
	entry, _, _ := strings.Cut(r.stdout[i+1:], "\n  -")
	if strings.Count(entry, "default") != 1 {
		t.Errorf("probe's --path gives its default %d times:\n%s", strings.Count(entry, "default"), entry)
	}
	if !strings.Contains(r.stdout, "bound on each dial and handshake, a DURATION or a number of seconds\n        (default 10s)") {
		t.Errorf("probe's help does not give its own --timeout default, 10s")
	}
}
