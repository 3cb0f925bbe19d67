package delivery

import (
	"testing"
	"time"
)

// The delay before a retry doubles with each attempt up to the cap, with
// jitter over the upper half of each step.
func TestBackoff(t *testing.T) {
	d := New(nil, nil, Config{BaseBackoff: time.Second, MaxBackoff: 10 * time.Minute})
	tests := []struct {
		attempt int           // the attempt that failed
		step    time.Duration // the delay lies in [step/2, step]
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{4, 8 * time.Second},
		{9, 256 * time.Second},
		{10, 512 * time.Second},
		{11, 10 * time.Minute}, // 1024s: capped from here on
		{12, 10 * time.Minute},
		{40, 10 * time.Minute},                 // the shift stops at 30: no overflow
		{int(^uint(0) >> 1), 10 * time.Minute}, // nor with the largest int
	}
	for _, tt := range tests {
		lo, hi := tt.step/2, tt.step
		lowest, highest := hi, time.Duration(0)
		for range 2000 {
			got := d.backoff(tt.attempt)
			if got < lo || got > hi {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.attempt, got, lo, hi)
			}
			lowest, highest = min(lowest, got), max(highest, got)
		}
		// Jitter: 2000 draws spread over the whole range; each end is missed
		// by a tenth with a probability of 0.9^2000.
		if spread := hi - lo; lowest > lo+spread/10 || highest < hi-spread/10 {
			t.Errorf("backoff(%d) ranged over [%v, %v] only, want most of [%v, %v]", tt.attempt, lowest, highest, lo, hi)
		}
	}
	// A cap below the base: every delay is within the cap.
	small := New(nil, nil, Config{BaseBackoff: time.Minute, MaxBackoff: time.Second})
	for n := 1; n < 5; n++ {
		if got := small.backoff(n); got < time.Second/2 || got > time.Second {
			t.Errorf("with a 1s cap, backoff(%d) = %v", n, got)
		}
	}
}
