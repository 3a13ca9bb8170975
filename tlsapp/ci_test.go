package tlsapp

import (
	"os"
	"strings"
	"testing"
)

// TestCIRunsAllocationsWithoutRace: TestSteadyStateAllocations checks pool
// refills only without the race detector, so CI must run it without -race
// too (issue 11, item 10; before, .ci/run ran only go test -race).
func TestCIRunsAllocationsWithoutRace(t *testing.T) {
	script, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(script), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "go" || f[1] != "test" {
			continue
		}
		race, runs := false, false
		for _, a := range f[2:] {
			race = race || a == "-race"
			runs = runs || strings.Contains(a, "TestSteadyStateAllocations")
		}
		if runs && !race {
			return
		}
	}
	t.Fatal(".ci/run never runs TestSteadyStateAllocations without -race")
}
