//go:build !race

package e2e

// RaceEnabled reports whether the tests run with -race; Build then builds the
// server with the race detector too.
const RaceEnabled = false
