package postgres

import (
	"context"
	"database/sql"
	"time"

	"integrations/sqlstore"
)

// OpenWithReadWindow opens the store as Open does, with another ReadWindow.
func OpenWithReadWindow(ctx context.Context, url string, opts Options, window time.Duration) (*sqlstore.DB, error) {
	d := Dialect
	d.ReadWindow = window
	return open(ctx, url, opts, d)
}

// OpenDB opens the connection pool that Open would use, without migrating,
// so that tests can look at the connections' settings.
func OpenDB(url string, opts Options) (*sql.DB, error) {
	cfg, err := config(url, opts)
	if err != nil {
		return nil, err
	}
	return openDB(cfg, opts, false), nil
}

// Config returns the connection settings that Open would use.
var Config = config

// Rebind is rebind, for the tests of the rewriting.
var Rebind = rebind

// MigrationLock is the key of the advisory lock that migrations hold.
const MigrationLock = migrationLock

// Presence is a store's presence on its database (presence.go).
type Presence = presence

// OpenWithPresence opens the store as Open does, with another ReadWindow
// and the presence's tick and lease, and returns its presence.
func OpenWithPresence(ctx context.Context, url string, opts Options, window, tick, lease time.Duration) (*sqlstore.DB, *Presence, error) {
	d := Dialect
	d.ReadWindow = window
	return openPresent(ctx, url, opts, d, tick, lease, "")
}

// OpenWithPresenceBeside is OpenWithPresence with the presence connection
// on presenceURL: for tests that watch the store's own connections through
// a proxy.
func OpenWithPresenceBeside(ctx context.Context, url, presenceURL string, opts Options, window, tick, lease time.Duration) (*sqlstore.DB, *Presence, error) {
	d := Dialect
	d.ReadWindow = window
	return openPresent(ctx, url, opts, d, tick, lease, presenceURL)
}

// OpenBesidePresence opens the store on url as Open does, with its presence
// connection on presenceURL instead: for tests that watch the store's own
// connections through a proxy.
func OpenBesidePresence(ctx context.Context, url, presenceURL string, opts Options) (*sqlstore.DB, error) {
	s, _, err := openPresent(ctx, url, opts, Dialect, presenceTick, presenceLease, presenceURL)
	return s, err
}

// PID returns the process ID of the presence connection's backend, 0
// before it connected.
func (p *presence) PID() uint32 { return p.pid.Load() }
