package postgres

import (
	"testing"
	"time"
)

// TestPresenceAllows checks what a presence allows from the times it
// recorded: readings are shared from a lease after the lock was taken,
// while the last answered check is recent; a process is alone from the
// time set once it took the lock exclusively, while its checks last.
func TestPresenceAllows(t *testing.T) {
	const lease = time.Second
	for _, tt := range []struct {
		name                           string
		checked, sharesFrom, aloneFrom time.Duration // before now; never if < 0
		wantShares, wantAlone          bool
	}{
		{"nothing yet", -1, -1, -1, false, false},
		{"lock taken, its lease not over", 10 * time.Millisecond, -time.Second, -1, false, false},
		{"lease over since the lock", 10 * time.Millisecond, 10 * time.Millisecond, -1, true, false},
		{"last check too old", lease + time.Millisecond, time.Second, -1, false, false},
		{"exclusive, not alone yet", 10 * time.Millisecond, time.Second, -time.Millisecond, true, false},
		{"alone", 10 * time.Millisecond, time.Second, time.Millisecond, true, true},
		{"alone, but the last check too old", lease + time.Millisecond, 2 * time.Second, time.Millisecond, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &presence{base: time.Now().Add(-time.Hour), lease: lease}
			now := p.now()
			at := func(ago time.Duration) int64 {
				if ago == -1 {
					return never
				}
				return now - int64(ago)
			}
			p.checked.Store(at(tt.checked))
			p.sharesFrom.Store(at(tt.sharesFrom))
			p.aloneFrom.Store(at(tt.aloneFrom))
			since, shares := p.Shares()
			if shares != tt.wantShares {
				t.Errorf("Shares() = %v, want %v", shares, tt.wantShares)
			}
			if shares && !since.Equal(p.base.Add(time.Duration(at(tt.sharesFrom)))) {
				t.Errorf("Shares() since %v, want the end of the lock's lease", since)
			}
			if alone := p.Alone(); alone != tt.wantAlone {
				t.Errorf("Alone() = %v, want %v", alone, tt.wantAlone)
			}
		})
	}
}
