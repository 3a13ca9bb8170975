//go:build !race

package download_test

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
