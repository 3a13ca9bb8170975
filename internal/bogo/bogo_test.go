package bogo

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// The second and third runs' shim flags: what the client offers on every
// connection, and the send limit.
var (
	offerFlags = []string{"-tlsapp-record-size-limit", "2048", "-tlsapp-max-fragment-length", "2048"}
	capFlags   = []string{"-max-send-fragment", "512"}
)

// TestBoGo runs BoringSSL's TLS test suite against tlsapp; see the
// package doc.
func TestBoGo(t *testing.T) {
	if testing.Short() {
		t.Skip("BoGo takes a minute or two; not in -short")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, tried := findRunner(root)
	if dir == "" {
		skipOrFail(t, where(tried))
	}
	start := time.Now()
	logf := reportTo(t, os.Getenv("BOGO_REPORT"))
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
		defer cancel()
	}
	tmp := t.TempDir()
	r := &runner{
		dir:     dir,
		binary:  filepath.Join(tmp, "runner.test"),
		shim:    filepath.Join(tmp, "shim"),
		config:  filepath.Join(root, "internal", "bogo", "shim", "config.json"),
		workers: workers(),
		tmp:     tmp,
	}
	cfg, err := readConfig(r.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := goCommand(ctx, root, "build", "-o", r.shim, "./internal/bogo/shim"); err != nil {
		t.Fatal(err)
	}
	if err := goCommand(ctx, dir, "test", "-c", "-o", r.binary, "."); err != nil {
		t.Fatal(err)
	}
	logf("runner %s, %d workers; built in %v", dir, r.workers, time.Since(start).Round(time.Second))
	var filter []string
	if f := os.Getenv("BOGO_TESTS"); f != "" {
		filter = strings.Split(f, ";")
	}

	// The census: every test a DisabledTests entry names (other than DTLS
	// and QUIC), started with a shim that only records its side.
	var patterns []string
	for _, p := range sortedKeys(cfg.DisabledTests) {
		if !outOfScope(p) {
			patterns = append(patterns, p)
		}
	}
	census, err := r.run(ctx, invocation{tests: patterns, skip: []string{"*DTLS*", "*QUIC*"}, census: true,
		extraFlags: []string{"-tlsapp-census"}})
	if err != nil {
		t.Fatal(err)
	}
	disabled, clientDisabled := map[string]bool{}, 0
	for n := range census.tests {
		if filter != nil && !matchesAny(filter, n) {
			continue
		}
		disabled[n] = true
		if !census.records[n].Server {
			clientDisabled++
		}
	}
	for _, p := range patterns {
		if !slices.ContainsFunc(sortedKeys(census.tests), func(n string) bool { m, _ := filepath.Match(p, n); return m }) {
			t.Errorf("config: DisabledTests entry %q matches no test", p)
		}
	}

	// Run 1: everything.
	t0 := time.Now()
	run1, err := r.run(ctx, invocation{tests: filter})
	if err != nil {
		t.Fatal(err)
	}
	t1 := run1.tally(len(disabled))
	logf("run 1, client and server: %v (%v)", t1, time.Since(t0).Round(time.Second))
	report(t, "run 1", run1, t1)

	// Runs 2 and 3: the client tests again, offering and capping.
	clients := run1.clientTests()
	for _, pass := range []struct {
		name  string
		flags []string
	}{
		{"run 2, client offering record_size_limit 2048 and max_fragment_length 2048", offerFlags},
		{"run 3, client with -max-send-fragment 512 (Config.SendRecordLimit)", capFlags},
	} {
		if len(clients) == 0 {
			break
		}
		t0 := time.Now()
		res, err := r.run(ctx, invocation{tests: clients, extraFlags: pass.flags})
		if err != nil {
			t.Fatal(err)
		}
		tl := res.tally(clientDisabled)
		logf("%s: %v (%v)", pass.name, tl, time.Since(t0).Round(time.Second))
		report(t, pass.name, res, tl)
		for _, reg := range regressions(run1, res, clients) {
			t.Errorf("%s: passed in run 1, now %s", pass.name, reg)
		}
	}

	// The tests Go's crypto/tls passes.
	list, err := readList("testdata/crypto-tls-passes.txt")
	if err != nil {
		t.Fatal(err)
	}
	if filter != nil {
		list = slices.DeleteFunc(list, func(n string) bool { return !matchesAny(filter, n) })
	}
	a := account(list, run1, disabled, cfg)
	logf("crypto/tls passes %d tests; tlsapp passes %d of them; %d are disabled:", a.total, a.passed, a.total-a.passed-len(a.faults))
	for _, reason := range sortedKeys(a.notPassed) {
		names := a.notPassed[reason]
		logf("  %d: %s\n      %s", len(names), reason, strings.Join(names, " "))
	}
	for _, f := range a.faults {
		t.Errorf("crypto/tls passes it, tlsapp neither passes nor disables it: %s", f)
	}
	logf("BoGo took %v", time.Since(start).Round(time.Second))
}

// report fails the test for each unexpected outcome of a run.
// reportTo returns the test's Logf, which also appends each line to the
// file at path when path is set: CI runs the whole suite without -v, which
// shows no log of a passing test, and prints that file afterwards.
func reportTo(t *testing.T, path string) func(format string, args ...any) {
	if path == "" {
		return t.Logf
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func(format string, args ...any) {
		t.Helper()
		t.Logf(format, args...)
		fmt.Fprintf(f, format+"\n", args...)
	}
}

func report(t *testing.T, run string, r *runResult, tl tally) {
	t.Helper()
	for _, n := range tl.unexpected {
		t.Errorf("%s: %s %s", run, n, outcome(r, n))
	}
}

// workers is the runner's parallelism: $BOGO_WORKERS, or twice the CPUs
// (a shim spends most of its life waiting on the runner).
func workers() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("BOGO_WORKERS"), &n); err == nil && n > 0 {
		return n
	}
	return 2 * runtime.NumCPU()
}

func matchesAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if m, _ := filepath.Match(p, name); m {
			return true
		}
	}
	return false
}

// readList reads a file of test names, one a line.
func readList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out, s.Err()
}
