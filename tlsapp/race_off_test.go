//go:build !race

package tlsapp

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
