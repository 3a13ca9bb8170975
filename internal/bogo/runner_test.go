package bogo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runnerDir is where the runner lives inside a BoringSSL tree.
const runnerDir = "ssl/test/runner"

// boringsslCommit is the BoringSSL revision Go 1.26's crypto/tls pins for
// its BoGo run, which the shared copy holds.
const boringsslCommit = "f51d8b099832"

// findRunner returns BoringSSL's runner directory: under $BOGO_RUNNER (a
// BoringSSL tree, or its runner directory itself) or, without it, under
// shared/bogo/boringssl beside the module root or beside any directory
// above it, or in the workplace's shared folder. It returns the places it
// looked when there is none.
func findRunner(moduleRoot string) (string, []string) {
	var tried []string
	isRunner := func(dir string) bool {
		tried = append(tried, dir)
		_, err := os.Stat(filepath.Join(dir, "runner_test.go"))
		return err == nil
	}
	if env := os.Getenv("BOGO_RUNNER"); env != "" {
		for _, dir := range []string{filepath.Join(env, runnerDir), env} {
			if isRunner(dir) {
				return dir, nil
			}
		}
		return "", tried
	}
	for dir := moduleRoot; ; {
		parent := filepath.Dir(dir)
		if candidate := filepath.Join(parent, "shared", "bogo", "boringssl", runnerDir); isRunner(candidate) {
			return candidate, nil
		}
		if parent == dir {
			break
		}
		dir = parent
	}
	// This workplace's shared folder, for a clone made elsewhere (a CI
	// checkout in a temporary directory).
	if candidate := filepath.Join(workplaceShared, "bogo", "boringssl", runnerDir); isRunner(candidate) {
		return candidate, nil
	}
	return "", tried
}

// workplaceShared is where the team's shared folder lives on its machines
// (a variable for the tests).
var workplaceShared = "/work/shared"

// moduleRoot returns the directory holding go.mod, above the package's.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the package directory")
		}
		dir = parent
	}
}

// goBuild runs the go command in dir and reports its output on failure.
func goCommand(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// runner is the built runner and shim, and what every invocation passes.
type runner struct {
	dir     string // the runner's source directory: its working directory
	binary  string // the runner, built with go test -c
	shim    string
	config  string
	workers int
	tmp     string
	n       int // invocations so far, for file names
}

// invocation is one run of the runner.
type invocation struct {
	tests      []string // -test patterns; none: every test
	skip       []string // -skip patterns
	extraFlags []string // -shim-extra-flags, passed to the shim for every test
	census     bool     // run the disabled tests too (-include-disabled)
}

// maxTestArg bounds the -test argument of one invocation: Linux takes at
// most 128 KiB in one argument. Longer lists are run in chunks.
const maxTestArg = 96 << 10

// run runs the runner, in chunks when the test list is long, and returns
// the results of all chunks.
func (r *runner) run(ctx context.Context, inv invocation) (*runResult, error) {
	var all *runResult
	for _, chunk := range chunks(inv.tests, maxTestArg) {
		c := inv
		c.tests = chunk
		res, err := r.runOnce(ctx, c)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = res
		} else {
			all.merge(res)
		}
	}
	return all, nil
}

// chunks splits names into lists whose ';'-joined length stays under max;
// no names gives one empty list (run everything).
func chunks(names []string, max int) [][]string {
	out := [][]string{nil}
	n := 0
	for _, name := range names {
		last := len(out) - 1
		if n > 0 && n+1+len(name) > max {
			out = append(out, nil)
			last, n = last+1, 0
		}
		out[last] = append(out[last], name)
		n += 1 + len(name)
	}
	return out
}

func (r *runner) runOnce(ctx context.Context, inv invocation) (*runResult, error) {
	r.n++
	jsonPath := filepath.Join(r.tmp, fmt.Sprintf("results-%d.json", r.n))
	transcripts := filepath.Join(r.tmp, fmt.Sprintf("transcripts-%d", r.n))
	args := []string{
		"-test.run=^TestAll$",
		"-shim-path=" + r.shim,
		"-shim-config=" + r.config,
		"-allow-unimplemented",
		"-loose-errors",
		"-pipe",
		"-num-workers=" + strconv.Itoa(r.workers),
		"-json-output=" + jsonPath,
		// The runner hands the shim -write-settings with the test's name
		// under this directory; the shim records its side and any refusal
		// there (the runner writes its transcripts beside).
		"-transcript-dir=" + transcripts,
	}
	if len(inv.tests) > 0 {
		args = append(args, "-test="+strings.Join(inv.tests, ";"))
	}
	if len(inv.skip) > 0 {
		args = append(args, "-skip="+strings.Join(inv.skip, ";"))
	}
	if len(inv.extraFlags) > 0 {
		args = append(args, "-shim-extra-flags="+strings.Join(inv.extraFlags, ";"))
	}
	if inv.census {
		args = append(args, "-include-disabled")
	}
	cmd := exec.CommandContext(ctx, r.binary, args...)
	cmd.Dir = r.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	// The runner exits 1 when a test failed; it wrote its results all
	// the same, and they say which.
	res, rerr := readRun(jsonPath, transcripts)
	if rerr != nil {
		return nil, fmt.Errorf("runner: %v; no results (%v):\n%s", err, rerr, tail(out.String(), 40))
	}
	if err := os.RemoveAll(transcripts); err != nil {
		return nil, err
	}
	return res, nil
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// where says where to get the runner, for the skip or failure message.
func where(tried []string) string {
	return fmt.Sprintf("BoGo's runner not found (looked in %s): set BOGO_RUNNER to a BoringSSL tree at commit %s "+
		"(its %s; the shared copy is ../shared/bogo/boringssl beside /work/main), "+
		"or git clone https://boringssl.googlesource.com/boringssl && git -C boringssl checkout %s",
		strings.Join(tried, ", "), boringsslCommit, runnerDir, boringsslCommit)
}

// skipOrFail skips the test outside CI and fails it in CI.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI must run BoGo)")
	}
	t.Skip(msg)
}
