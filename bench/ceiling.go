package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"integrations"
	"integrations/sqlstore"
)

// The ceiling of the writes on PostgreSQL. Without the server, the same
// enable-then-disable pairs are sent to PostgreSQL as the transactions that
// the server runs for them, statement for statement and round trip for
// round trip (the BEGIN with the reading of the reference generation and
// the space installation's insert or delete; the event with its attempt
// and the COMMIT), on the seeded database, from as many
// connections as the server has (its --db-max-conns default). What
// PostgreSQL does then on this machine is the most the server's pairs could
// reach with this design: the pair's ratio is its rate over this one.

// ceilingConnections is the server's pool: postgres.DefaultMaxConns.
const ceilingConnections = 10

// measureCeiling runs the pairs of slots on the database for duration,
// after warmup, and returns their figures and the CPU seconds of the
// database's backends meanwhile (the figures' CPU per step is theirs).
func measureCeiling(ctx context.Context, dbURL string, w *world, slots []slot, warmup, duration time.Duration, dbCPU func() float64) (figures, float64, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return figures{}, 0, err
	}
	cfg.MaxConns = ceilingConnections
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return figures{}, 0, err
	}
	defer pool.Close()
	d := w.dataset
	org := map[string]string{} // installation id -> organization id
	for i := range d.Installations {
		org[d.Installations[i].ID] = d.Installations[i].OrganizationID
	}

	var mu sync.Mutex
	var s sample
	start := time.Now()
	measured := start.Add(warmup)
	end := measured.Add(duration)
	cpu := dbCPU()
	var wg sync.WaitGroup
	for worker := range ceilingConnections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs, done := 0, 0
			first := ""
			// Each worker its own slots, as the load's connections (with
			// fewer slots than workers, workers share them).
			var mine []slot
			for k := worker % len(slots); k < len(slots); k += ceilingConnections {
				mine = append(mine, slots[k])
			}
			for n := 0; ; n++ {
				sl := mine[n%len(mine)]
				in := &d.Installations[sl.installation]
				space := d.Spaces[sl.space].ID
				t := time.Now()
				if !t.Before(end) || ctx.Err() != nil {
					break
				}
				err := ceilingPair(ctx, pool, in.IntegrationID, in.ID, space, org[in.ID])
				now := time.Now()
				done++
				if t.Before(measured) || now.After(end) {
					continue
				}
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				lat = append(lat, now.Sub(t))
			}
			mu.Lock()
			s.add(sample{lat: lat, errors: errs, firstError: first, done: done})
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.window = duration
	s.cpu = dbCPU() - cpu
	return s.figures(), s.cpu, ctx.Err()
}

// ceilingPair enables and disables an installation on a space, as two
// serializable transactions, run again on a serialization failure as the
// server does.
func ceilingPair(ctx context.Context, pool *pgxpool.Pool, integrationID, installationID, spaceID, orgID string) error {
	now := time.Now().UnixMicro()
	for _, change := range []struct {
		query, event string
		args         []any
	}{
		{`INSERT INTO space_installations (installation_id, space_id, status, configuration, external_ids, created_at, updated_at)
			VALUES ($1, $2, 'active', '{}', '[]', $3, $3) ON CONFLICT DO NOTHING`, integrations.EventSpaceInstallationSetup, []any{installationID, spaceID, now}},
		{`DELETE FROM space_installations WHERE installation_id = $1 AND space_id = $2
			RETURNING installation_id, space_id, status, configuration, external_ids, created_at, updated_at`, integrations.EventSpaceInstallationDeleted, []any{installationID, spaceID}},
	} {
		query, args := ceilingEvent(integrationID, installationID, spaceID, orgID, change.event)
		if err := serializable(ctx, pool, &sqlstore.Statement{Query: change.query, Args: change.args}, &sqlstore.Statement{Query: query, Args: args}); err != nil {
			return err
		}
	}
	return nil
}

// ceilingEvent returns the statement of the event of a change, failed at
// once with its one attempt, as the server writes it for an integration
// with nowhere to send it: the attempt in the event's row.
func ceilingEvent(integrationID, installationID, spaceID, orgID, typ string) (string, []any) {
	id := integrations.NewEventID()
	now := time.Now().UnixMicro()
	payload := fmt.Sprintf(`{"eventId":%q,"type":%q,"installationId":%q,"spaceId":%q}`, id, typ, installationID, spaceID)
	return `INSERT INTO events (id, integration_id, installation_id, space_id, organization_id, type, payload, status, attempts, next_attempt_at, created_at, updated_at,
			first_attempt_at, first_attempt_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'failed', 1, $8, $8, $8, $8, 'not delivered: no URL') RETURNING seq`,
		[]any{id, integrationID, installationID, spaceID, orgID, typ, payload, now}
}

// serializable runs a serializable transaction of two statements, again
// (up to 50 times) when PostgreSQL reports a serialization failure. As the
// server does, it sends the transaction's BEGIN, its reading of the
// reference generation and its first statement in one pipeline, then its
// last statement and the COMMIT in another: two round trips.
func serializable(ctx context.Context, pool *pgxpool.Pool, first, last *sqlstore.Statement) error {
	pipeline := func(conn *pgx.Conn, statements ...*sqlstore.Statement) error {
		var b pgx.Batch
		for _, st := range statements {
			b.Queue(st.Query, st.Args...)
		}
		return conn.SendBatch(ctx, &b).Close()
	}
	var err error
	for range 50 {
		err = pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
			conn := c.Conn()
			err := pipeline(conn, &sqlstore.Statement{Query: "BEGIN ISOLATION LEVEL SERIALIZABLE"}, &sqlstore.Statement{Query: sqlstore.GenerationQuery}, first)
			if err == nil {
				err = pipeline(conn, last, &sqlstore.Statement{Query: "COMMIT"})
			}
			if err != nil && conn.PgConn().TxStatus() != 'I' {
				conn.PgConn().Exec(ctx, "ROLLBACK").ReadAll()
			}
			return err
		})
		if !isSerializationFailure(err) {
			return err
		}
	}
	return err
}

func isSerializationFailure(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
}
