//go:build race

package guard_test

// raceEnabled: the race detector makes sync.Pool drop buffers at random,
// so allocation counts say nothing under it.
const raceEnabled = true
