package bogo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// config is the shim config the runner reads (-shim-config).
type config struct {
	DisabledTests map[string]string
	ErrorMap      map[string][]string
	AllCurves     []int
}

func readConfig(path string) (*config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for pattern, reason := range c.DisabledTests {
		if _, err := filepath.Match(pattern, ""); err != nil {
			return nil, fmt.Errorf("%s: pattern %q: %w", path, pattern, err)
		}
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s: pattern %q has no reason", path, pattern)
		}
	}
	return &c, nil
}

// outOfScope reports whether a DisabledTests pattern is one of those that
// take the DTLS and QUIC tests out wholesale; the census skips them.
func outOfScope(pattern string) bool { return pattern == "*DTLS*" || pattern == "*QUIC*" }

// disabled returns the pattern that disables name, the first in sorted
// order as the runner's choice does not matter, and its reason.
func (c *config) disabled(name string) (pattern, reason string, ok bool) {
	patterns := make([]string, 0, len(c.DisabledTests))
	for p := range c.DisabledTests {
		patterns = append(patterns, p)
	}
	slices.Sort(patterns)
	for _, p := range patterns {
		if m, _ := filepath.Match(p, name); m {
			return p, c.DisabledTests[p], true
		}
	}
	return "", "", false
}

// result is one test's outcome in the runner's -json-output.
type result struct {
	Actual       string `json:"actual"`
	Expected     string `json:"expected"`
	IsUnexpected bool   `json:"is_unexpected"`
	Error        string `json:"error"`
}

// The runner's outcomes.
const (
	pass = "PASS"
	fail = "FAIL"
	skip = "SKIP"
)

// shimRecord is what the shim writes for each test it starts (see the
// shim's record): its side, and why it refused the test, if it did.
type shimRecord struct {
	Server        bool   `json:"server"`
	Unimplemented string `json:"unimplemented"`
}

// runResult is one runner invocation's outcome: the runner's results and
// the shim's records, by test name.
type runResult struct {
	tests   map[string]result
	records map[string]shimRecord
}

// readRun reads the runner's -json-output file and the shim's records in
// the -transcript-dir tree (tls/client/NAME-shim, tls/server/NAME-shim).
func readRun(jsonPath, transcriptDir string) (*runResult, error) {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, err
	}
	var out struct {
		Tests map[string]result `json:"tests"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", jsonPath, err)
	}
	r := &runResult{tests: out.Tests, records: map[string]shimRecord{}}
	for _, side := range []string{"client", "server"} {
		dir := filepath.Join(transcriptDir, "tls", side)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), "-shim")
			if !ok {
				continue // a transcript
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			var rec shimRecord
			if err := json.Unmarshal(b, &rec); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Name(), err)
			}
			r.records[name] = rec
		}
	}
	return r, nil
}

// merge adds the tests of o (a later chunk of the same run).
func (r *runResult) merge(o *runResult) {
	for n, t := range o.tests {
		r.tests[n] = t
	}
	for n, rec := range o.records {
		r.records[n] = rec
	}
}

// tally is one run's counts.
type tally struct {
	passed, failed, skipped, disabled int
	// unexpected lists the tests whose outcome the runner did not expect:
	// a failure, with the runner's account of it.
	unexpected []string
}

func (r *runResult) tally(disabled int) tally {
	t := tally{disabled: disabled}
	for _, n := range sortedKeys(r.tests) {
		switch res := r.tests[n]; res.Actual {
		case pass:
			t.passed++
		case skip:
			t.skipped++
		default:
			t.failed++
		}
		if res := r.tests[n]; res.IsUnexpected {
			t.unexpected = append(t.unexpected, n)
		}
	}
	return t
}

func (t tally) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped (unimplemented), %d disabled", t.passed, t.failed, t.skipped, t.disabled)
}

// clientTests returns the client tests of r that ran (passed or failed):
// those runs 2 and 3 repeat.
func (r *runResult) clientTests() []string {
	var out []string
	for _, n := range sortedKeys(r.tests) {
		rec, ok := r.records[n]
		if ok && !rec.Server && r.tests[n].Actual != skip {
			out = append(out, n)
		}
	}
	return out
}

// regressions returns the tests that passed in base and not in r.
func regressions(base, r *runResult, names []string) []string {
	var out []string
	for _, n := range names {
		if base.tests[n].Actual == pass && r.tests[n].Actual != pass {
			out = append(out, fmt.Sprintf("%s: %s", n, outcome(r, n)))
		}
	}
	return out
}

// outcome describes what became of test n in r.
func outcome(r *runResult, n string) string {
	res, ok := r.tests[n]
	switch {
	case !ok:
		return "not run"
	case res.Actual == skip:
		if why := r.records[n].Unimplemented; why != "" {
			return "skipped: " + why
		}
		return "skipped"
	case res.Actual == fail:
		return "failed: " + firstLines(res.Error, 6)
	}
	return strings.ToLower(res.Actual)
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " / ")
}

// crypto/tls accounting: each test of the list passes, or is disabled with
// a reason; anything else is a fault.
type accounting struct {
	total, passed int
	// notPassed maps each reason to the tests it keeps from passing.
	notPassed map[string][]string
	faults    []string
}

func account(list []string, run1 *runResult, census map[string]bool, cfg *config) accounting {
	a := accounting{total: len(list), notPassed: map[string][]string{}}
	for _, n := range list {
		res, ran := run1.tests[n]
		switch {
		case ran && res.Actual == pass:
			a.passed++
		case !ran && census[n]:
			_, reason, _ := cfg.disabled(n)
			a.notPassed[reason] = append(a.notPassed[reason], n)
		default:
			a.faults = append(a.faults, fmt.Sprintf("%s: %s", n, outcome(run1, n)))
		}
	}
	return a
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
