package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"integrations"
	"integrations/postgres"
	"integrations/sqlstore"
)

// The ceiling of the writes on PostgreSQL. Without the server, the same
// enable-then-disable pairs are sent to PostgreSQL as the transactions that
// the server runs for them, statement for statement and round trip for
// round trip, on the seeded database: as many callers as the load has
// connections hand their steps (an enable or a disable) to two lanes, as
// the server's requests join the batches of its pipeline
// (sqlstore/pipeline.go), and each lane sends the steps waiting for it as
// one transaction: the BEGIN with the reading of the version and the
// reference generation and each step's space installation insert or delete
// in one round trip, then each step's event with its attempt and the
// COMMIT in another. What PostgreSQL does then on this machine is the most
// the server's pairs could reach with this design: the pair's ratio is its
// rate over this one.

// ceilingStep is one enable or disable, waiting for its batch: its space
// installation's insert or delete, and the values of its event.
type ceilingStep struct {
	first *sqlstore.Statement
	event []any
	done  chan error
}

// measureCeiling runs the pairs of slots on the database for duration,
// after warmup, from callers at once, and returns their figures and the
// CPU seconds of the database's backends meanwhile (the figures' CPU per
// step is theirs).
func measureCeiling(ctx context.Context, dbURL string, w *world, slots []slot, callers int, warmup, duration time.Duration, dbCPU func() float64) (figures, float64, error) {
	_, steps, stop, err := ceilingLanes(ctx, dbURL, callers)
	if err != nil {
		return figures{}, 0, err
	}
	defer stop()
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
	for caller := range callers {
		wg.Go(func() {
			var lat []time.Duration
			errs, done := 0, 0
			first := ""
			// Each caller its own slots, as the load's connections (with
			// fewer slots than callers, callers share them).
			var mine []slot
			for k := caller % len(slots); k < len(slots); k += callers {
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
				err := ceilingPair(ctx, steps, in.IntegrationID, in.ID, space, org[in.ID])
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
		})
	}
	wg.Wait()
	s.window = duration
	s.cpu = dbCPU() - cpu
	return s.figures(), s.cpu, ctx.Err()
}

// The two changes of a pair, as the server's store makes them.
var (
	enableChange = ceilingChange{`INSERT INTO space_installations (installation_id, space_id, status, configuration, external_ids, created_at, updated_at)
			VALUES ($1, $2, 'active', '{}', '[]', $3, $3) ON CONFLICT DO NOTHING`, integrations.EventSpaceInstallationSetup}
	disableChange = ceilingChange{`DELETE FROM space_installations WHERE installation_id = $1 AND space_id = $2
			RETURNING installation_id, space_id, status, configuration, external_ids, created_at, updated_at`, integrations.EventSpaceInstallationDeleted}
)

// ceilingChange is an enable or a disable: its statement and its event.
type ceilingChange struct {
	query, event string
}

// ceilingLanes opens a pool of one connection per lane of the server's
// pipeline on the database and starts the lanes, which take the steps sent
// to steps, most at once in a batch; stop ends the lanes and closes the
// pool.
func ceilingLanes(ctx context.Context, dbURL string, most int) (pool *pgxpool.Pool, steps chan<- *ceilingStep, stop func(), err error) {
	lanes := postgres.Dialect.PipelineWrites
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg.MaxConns = int32(lanes)
	if pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, nil, nil, err
	}
	ch := make(chan *ceilingStep)
	quit := make(chan struct{})
	var lanesDone sync.WaitGroup
	var busy atomic.Int32
	for range lanes {
		lanesDone.Go(func() { ceilingLane(ctx, pool, ch, quit, most, &busy) })
	}
	return pool, ch, func() {
		close(quit)
		lanesDone.Wait()
		pool.Close()
	}, nil
}

// ceilingPair enables and disables an installation on a space, as two
// steps that each wait for their batch to commit.
func ceilingPair(ctx context.Context, steps chan<- *ceilingStep, integrationID, installationID, spaceID, orgID string) error {
	if err := enableChange.run(ctx, steps, integrationID, installationID, spaceID, orgID); err != nil {
		return err
	}
	return disableChange.run(ctx, steps, integrationID, installationID, spaceID, orgID)
}

// run hands the change to the lanes as a step and waits for its batch to
// commit, again on a serialization failure as the server does.
func (c ceilingChange) run(ctx context.Context, steps chan<- *ceilingStep, integrationID, installationID, spaceID, orgID string) error {
	args := []any{installationID, spaceID}
	if c == enableChange {
		args = append(args, time.Now().UnixMicro())
	}
	var err error
	for range 50 {
		step := &ceilingStep{first: &sqlstore.Statement{Query: c.query, Args: args},
			event: ceilingEvent(integrationID, installationID, spaceID, orgID, c.event), done: make(chan error, 1)}
		select {
		case steps <- step:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err = <-step.done; !isSerializationFailure(err) {
			break
		}
	}
	return err
}

// ceilingLane sends the steps waiting when it is free as one serializable
// transaction of two round trips, as a lane of the server's pipeline does,
// their events in one insert of many rows, until stop. As there, a step
// alone while another lane (counted by busy) runs a batch waits
// sqlstore.PipelineLinger for others.
func ceilingLane(ctx context.Context, pool *pgxpool.Pool, steps <-chan *ceilingStep, stop <-chan struct{}, most int, busy *atomic.Int32) {
	pipeline := func(conn *pgx.Conn, statements ...*sqlstore.Statement) error {
		var b pgx.Batch
		for _, st := range statements {
			b.Queue(st.Query, st.Args...)
		}
		return conn.SendBatch(ctx, &b).Close()
	}
	for {
		var batch []*ceilingStep
		select {
		case st := <-steps:
			batch = append(batch, st)
		case <-stop:
			return
		}
	more:
		for len(batch) < most {
			select {
			case st := <-steps:
				batch = append(batch, st)
			default:
				break more
			}
		}
		if len(batch) == 1 && busy.Load() > 0 {
			timer := time.NewTimer(sqlstore.PipelineLinger)
		linger:
			for len(batch) < most {
				select {
				case st := <-steps:
					batch = append(batch, st)
				case <-timer.C:
					break linger
				}
			}
			timer.Stop()
		}
		busy.Add(1)
		err := pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
			conn := c.Conn()
			round := []*sqlstore.Statement{{Query: "BEGIN ISOLATION LEVEL SERIALIZABLE"}, {Query: postgres.Dialect.VersionQuery}}
			for _, st := range batch {
				round = append(round, st.first)
			}
			err := pipeline(conn, round...)
			if err == nil {
				err = pipeline(conn, ceilingEvents(batch), &sqlstore.Statement{Query: "COMMIT"})
			}
			if err != nil && conn.PgConn().TxStatus() != 'I' {
				conn.PgConn().Exec(ctx, "ROLLBACK").ReadAll()
			}
			return err
		})
		busy.Add(-1)
		for _, st := range batch {
			st.done <- err
		}
	}
}

// ceilingEvent returns the values of the event of a change, failed at once
// with its one attempt, as the server writes it for an integration with
// nowhere to send it: the attempt in the event's row.
func ceilingEvent(integrationID, installationID, spaceID, orgID, typ string) []any {
	id := integrations.NewEventID()
	now := time.Now().UnixMicro()
	payload := fmt.Sprintf(`{"eventId":%q,"type":%q,"installationId":%q,"spaceId":%q}`, id, typ, installationID, spaceID)
	return []any{id, integrationID, installationID, spaceID, orgID, typ, payload, "failed", 1, now, now, now, now, "not delivered: no URL"}
}

// ceilingEvents returns the insert of the events of a batch, one row each,
// as the server merges them (sqlstore/merge.go).
func ceilingEvents(batch []*ceilingStep) *sqlstore.Statement {
	var q strings.Builder
	q.WriteString(`INSERT INTO events (id, integration_id, installation_id, space_id, organization_id, type, payload, status, attempts, next_attempt_at, created_at, updated_at,
		first_attempt_at, first_attempt_error) VALUES `)
	var args []any
	for k, st := range batch {
		if k > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(")
		for n := range st.event {
			if n > 0 {
				q.WriteString(", ")
			}
			args = append(args, st.event[n])
			fmt.Fprintf(&q, "$%d", len(args))
		}
		q.WriteString(")")
	}
	q.WriteString(" RETURNING id, seq")
	return &sqlstore.Statement{Query: q.String(), Args: args}
}

func isSerializationFailure(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
}
