package bogo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The tests of this file check the harness's own logic on made-up runner
// output, so that TestBoGo's verdicts can be trusted.

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeRun writes a runner's JSON output and the shim's records.
func fakeRun(t *testing.T, json string, records map[string]string) *runResult {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "out.json"), json)
	for path, rec := range records {
		writeFile(t, filepath.Join(dir, "tr", "tls", path+"-shim"), rec)
	}
	// A transcript beside the records, which readRun passes over.
	writeFile(t, filepath.Join(dir, "tr", "tls", "client", "A-0"), "transcript")
	r, err := readRun(filepath.Join(dir, "out.json"), filepath.Join(dir, "tr"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const sampleRun = `{"version":3,"tests":{
 "A":{"actual":"PASS","expected":"PASS"},
 "B":{"actual":"FAIL","expected":"PASS","is_unexpected":true,"error":"unexpected failure\nline 2"},
 "C":{"actual":"SKIP","expected":"SKIP"},
 "S":{"actual":"PASS","expected":"PASS"}}}`

func sampleRecords() map[string]string {
	return map[string]string{
		"client/A": `{"server":false}`,
		"client/B": `{"server":false}`,
		"client/C": `{"server":false,"unimplemented":"flag -async"}`,
		"server/S": `{"server":true}`,
	}
}

func TestTally(t *testing.T) {
	r := fakeRun(t, sampleRun, sampleRecords())
	tl := r.tally(7)
	if tl.passed != 2 || tl.failed != 1 || tl.skipped != 1 || tl.disabled != 7 || !slices.Equal(tl.unexpected, []string{"B"}) {
		t.Errorf("tally %+v", tl)
	}
	if got := tl.String(); got != "2 passed, 1 failed, 1 skipped (unimplemented), 7 disabled" {
		t.Errorf("String() = %q", got)
	}
	// Runs 2 and 3 repeat the client tests that ran, not the skipped one
	// nor the server's.
	if got := r.clientTests(); !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("clientTests() = %q", got)
	}
	if got := outcome(r, "C"); got != "skipped: flag -async" {
		t.Errorf("outcome(C) = %q", got)
	}
	if got := outcome(r, "B"); got != "failed: unexpected failure / line 2" {
		t.Errorf("outcome(B) = %q", got)
	}
	if got := outcome(r, "Z"); got != "not run" {
		t.Errorf("outcome(Z) = %q", got)
	}
}

func TestRegressions(t *testing.T) {
	base := fakeRun(t, sampleRun, sampleRecords())
	again := fakeRun(t, `{"tests":{"A":{"actual":"FAIL","is_unexpected":true,"error":"x"},"B":{"actual":"PASS"}}}`, nil)
	if got := regressions(base, again, []string{"A", "B"}); len(got) != 1 || !strings.HasPrefix(got[0], "A: failed") {
		t.Errorf("regressions = %q", got)
	}
	if got := regressions(base, base, []string{"A", "B"}); len(got) != 0 {
		t.Errorf("no change, regressions = %q", got)
	}
}

func TestAccount(t *testing.T) {
	cfg := &config{DisabledTests: map[string]string{"D-*": "reason d", "E": "reason e"}}
	r := fakeRun(t, sampleRun, sampleRecords())
	census := map[string]bool{"D-1": true, "D-2": true, "E": true}
	a := account([]string{"A", "S", "B", "C", "D-1", "D-2", "E", "Gone"}, r, census, cfg)
	if a.total != 8 || a.passed != 2 {
		t.Errorf("total %d passed %d", a.total, a.passed)
	}
	if !slices.Equal(a.notPassed["reason d"], []string{"D-1", "D-2"}) || !slices.Equal(a.notPassed["reason e"], []string{"E"}) {
		t.Errorf("notPassed %q", a.notPassed)
	}
	// A failure, a skip and a test the runner no longer has are faults:
	// only a disabled test may go without passing.
	if len(a.faults) != 3 || !strings.HasPrefix(a.faults[0], "B: failed") ||
		!strings.HasPrefix(a.faults[1], "C: skipped") || a.faults[2] != "Gone: not run" {
		t.Errorf("faults %q", a.faults)
	}
}

func TestReadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		json string
		ok   bool
	}{
		{`{"DisabledTests":{"A-*":"why"},"ErrorMap":{":X:":["x"]}}`, true},
		{`{"DisabledTests":{"A-*":" "}}`, false},   // no reason
		{`{"DisabledTests":{"A-[":"why"}}`, false}, // not a pattern
		{`{"DisabledTests":`, false},
	} {
		p := filepath.Join(dir, "c.json")
		writeFile(t, p, tt.json)
		if _, err := readConfig(p); (err == nil) != tt.ok {
			t.Errorf("%s: error %v", tt.json, err)
		}
	}
	c := &config{DisabledTests: map[string]string{"*B*": "second", "A*": "first"}}
	if p, why, ok := c.disabled("AB"); !ok || p != "*B*" || why != "second" {
		t.Errorf("disabled(AB) = %q %q %v: want the first pattern in sorted order", p, why, ok)
	}
	if _, _, ok := c.disabled("C"); ok {
		t.Error("disabled(C)")
	}
}

// TestShimConfig: the config the runner reads is valid and gives every
// entry a reason.
func TestShimConfig(t *testing.T) {
	cfg, err := readConfig("shim/config.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.DisabledTests) == 0 || len(cfg.AllCurves) == 0 {
		t.Errorf("config has %d disabled tests and AllCurves %v", len(cfg.DisabledTests), cfg.AllCurves)
	}
}

func TestChunks(t *testing.T) {
	if got := chunks(nil, 10); len(got) != 1 || got[0] != nil {
		t.Errorf("chunks(nil) = %q: want one run of everything", got)
	}
	got := chunks([]string{"aaaa", "bbbb", "cccc", "dd"}, 10)
	want := [][]string{{"aaaa", "bbbb"}, {"cccc", "dd"}}
	if len(got) != len(want) || !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
		t.Errorf("chunks = %q, want %q", got, want)
	}
	for _, c := range got {
		if n := len(strings.Join(c, ";")); n > 10 {
			t.Errorf("chunk %q is %d bytes", c, n)
		}
	}
}

func TestFindRunner(t *testing.T) {
	base := t.TempDir()
	module := filepath.Join(base, "work", "wt", "clone")
	runner := filepath.Join(base, "work", "shared", "bogo", "boringssl", runnerDir)
	writeFile(t, filepath.Join(module, "go.mod"), "module x\n")
	writeFile(t, filepath.Join(runner, "runner_test.go"), "package runner\n")

	t.Setenv("BOGO_RUNNER", "")
	if got, _ := findRunner(module); got != runner {
		t.Errorf("found %q, want %q (shared/bogo beside an ancestor)", got, runner)
	}
	t.Setenv("BOGO_RUNNER", filepath.Join(base, "work", "shared", "bogo", "boringssl"))
	if got, _ := findRunner(module); got != runner {
		t.Errorf("BOGO_RUNNER as the BoringSSL tree: found %q", got)
	}
	t.Setenv("BOGO_RUNNER", runner)
	if got, _ := findRunner(module); got != runner {
		t.Errorf("BOGO_RUNNER as the runner: found %q", got)
	}
	t.Setenv("BOGO_RUNNER", filepath.Join(base, "nowhere"))
	if got, tried := findRunner(module); got != "" || len(tried) != 2 {
		t.Errorf("BOGO_RUNNER elsewhere: found %q after %q; it must not fall back", got, tried)
	}
	t.Setenv("BOGO_RUNNER", "")
	defer func(s string) { workplaceShared = s }(workplaceShared)
	workplaceShared = filepath.Join(base, "work", "shared")
	if got, _ := findRunner(filepath.Join(t.TempDir(), "ci", "clone")); got != runner {
		t.Errorf("a clone elsewhere: found %q, want the workplace's %q", got, runner)
	}
	workplaceShared = filepath.Join(base, "nowhere")
	if got, tried := findRunner(filepath.Join(t.TempDir(), "lone")); got != "" || len(tried) == 0 {
		t.Errorf("no runner: found %q after %q", got, tried)
	}
}

// TestCIRunsBoGo: CI runs TestBoGo within the README's test command (no
// -skip leaves it out) and prints the report it writes to $BOGO_REPORT.
func TestCIRunsBoGo(t *testing.T) {
	script, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	whole, exported, printed := false, false, false
	for _, line := range strings.Split(string(script), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "go test -race -count=1 ./...":
			whole = true
		case strings.HasPrefix(line, "export BOGO_REPORT="):
			exported = true
		case strings.HasPrefix(line, "cat ") && strings.Contains(line, "$BOGO_REPORT"):
			printed = whole && exported
		}
	}
	if !whole || !exported || !printed {
		t.Errorf(".ci/run: the README's test command %v, BOGO_REPORT exported %v and printed after it %v", whole, exported, printed)
	}
}
