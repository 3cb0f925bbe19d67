package sqlstore

import (
	"database/sql"
	"encoding/json"
	"sort"
	"time"

	"integrations"
)

const eventColumns = `e.seq, e.id, e.integration_id, e.installation_id, e.space_id, e.organization_id, e.type, e.payload,
	e.status, e.attempts, e.next_attempt_at, e.created_at, e.updated_at`

func scanEvent(s scanner) (*integrations.Event, error) {
	var e integrations.Event
	var payload, status string
	var next, created, updated int64
	if err := s.Scan(&e.Seq, &e.ID, &e.IntegrationID, &e.InstallationID, &e.SpaceID, &e.OrganizationID, &e.Type, &payload,
		&status, &e.Attempts, &next, &created, &updated); err != nil {
		return nil, err
	}
	e.Payload = json.RawMessage(payload)
	e.Status = integrations.EventStatus(status)
	e.NextAttemptAt, e.CreatedAt, e.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
	return &e, nil
}

// CreateEvent adds the event, then its attempts. An event that failed as
// it was created, with the one attempt that says why (undelivered), keeps
// that attempt in its own row (migration 0008): the usual case is then one
// INSERT, which the transaction holds back to send with its COMMIT where
// the dialect can (holdBack).
func (t *tx) CreateEvent(e *integrations.Event, attempts ...*integrations.EventAttempt) error {
	if err := t.eventIntegration(e.IntegrationID); err != nil {
		return err
	}
	var firstAt int64
	var firstError string
	if len(attempts) == 1 && undelivered(e, attempts[0]) {
		firstAt, firstError = micros(attempts[0].At), attempts[0].Error
		attempts = nil
	}
	const insert = `INSERT INTO events (id, integration_id, installation_id, space_id, organization_id, type, payload, status, attempts, next_attempt_at, created_at, updated_at,
			first_attempt_at, first_attempt_error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	args := []any{e.ID, e.IntegrationID, e.InstallationID, e.SpaceID, e.OrganizationID, e.Type, string(e.Payload), string(e.Status), e.Attempts,
		micros(e.NextAttemptAt), micros(e.CreatedAt), micros(e.UpdatedAt), firstAt, firstError}
	var err error
	switch {
	case len(attempts) == 0 && !t.db.dialect.LastInsertID:
		return t.holdBack("This event", insert+` RETURNING seq`, args, &e.Seq)
	case t.db.dialect.LastInsertID:
		var res sql.Result
		if res, err = t.exec(insert, args...); err == nil {
			e.Seq, err = res.LastInsertId()
		}
	default:
		err = t.queryRow(insert+` RETURNING seq`, args...).Scan(&e.Seq)
	}
	if err != nil {
		return t.insertErr(err, "This event")
	}
	for _, a := range attempts {
		if err := t.AddAttempt(a); err != nil {
			return err
		}
	}
	return nil
}

// eventIntegration fails with ENOTFOUND unless the event's integration
// exists in the transaction's snapshot. On PostgreSQL no foreign key checks
// it (migration 0009): a transaction that sees one snapshot takes the
// integration from the reference cache, at the generation it read (the
// lookup that the service made before, read once: see ref), and a
// concurrent deletion of the integration conflicts with it (the migration
// says how); the READ COMMITTED transactions of UpdateLeases lock the row
// instead (lockedRow). On SQLite the key stays, and the lookup is one of the
// cache.
func (t *tx) eventIntegration(id string) error {
	if !t.perStatement {
		_, err := t.integrationByID(id, shared)
		return t.refused(err)
	}
	return t.refused(t.lockedRow("integrations", "Integration", id))
}

// lockedRow fails with ENOTFOUND unless the row of table with id exists,
// and keeps it from being deleted until the transaction ends
// (Dialect.LockRow), as a foreign key's check would: for transactions that
// see what committed before each statement, where a lookup alone could be
// of a row that a concurrent transaction deletes.
func (t *tx) lockedRow(table, kind, id string) error {
	var found string
	err := t.queryRow(`SELECT id FROM `+table+` WHERE id = ?`+t.db.dialect.LockRow, id).Scan(&found)
	return notFound(err, "%s %q not found.", kind, id)
}

// refused returns the error of a check that stands for a foreign key's
// (eventIntegration, spaceInstallationRefs), and keeps the transaction from
// committing with it, as a statement that failed a key's check would on
// PostgreSQL: even one whose function goes on without the error.
func (t *tx) refused(err error) error {
	if err != nil && t.heldErr == nil {
		t.heldErr = err
	}
	return err
}

// undelivered reports whether a is the attempt of an event that was not
// delivered as it was created: its first, sent nowhere (no target, no
// answer, no time spent), with at most an error that says why. The event's
// row can hold it (first_attempt_at 0 means none, so not at the epoch).
func undelivered(e *integrations.Event, a *integrations.EventAttempt) bool {
	return a.EventID == e.ID && a.Attempt == 1 && micros(a.At) != 0 &&
		a.Target == "" && a.StatusCode == 0 && a.Duration == 0
}

func (t *tx) Event(id string) (*integrations.Event, error) {
	e, err := scanEvent(t.queryRow(`SELECT `+eventColumns+` FROM events e WHERE e.id = ?`, id))
	return e, notFound(err, "Event %q not found.", id)
}

func (t *tx) Events(f integrations.EventFilter, p integrations.Page) ([]*integrations.Event, int, error) {
	var w where
	if f.IntegrationID != "" {
		w.add(`e.integration_id = ?`, f.IntegrationID)
	}
	if f.InstallationID != "" {
		w.add(`e.installation_id = ?`, f.InstallationID)
	}
	total, err := t.count(`SELECT COUNT(*) FROM events e`+w.String(), w.args...)
	if err != nil {
		return nil, 0, err
	}
	// Newest first: the sequence orders events by creation.
	if p.After != nil {
		w.add(`e.seq < ?`, p.After.At)
	}
	rows, err := t.query(`SELECT `+eventColumns+` FROM events e`+w.String()+` ORDER BY e.seq DESC LIMIT ?`, append(w.args, p.Limit)...)
	if err != nil {
		return nil, 0, err
	}
	list, err := scanAll(rows, scanEvent)
	return list, total, err
}

func (t *tx) EventAttempts(eventID string) ([]*integrations.EventAttempt, error) {
	// The attempt in the event's row, if any, comes first: it was made
	// with the event.
	rows, err := t.query(`SELECT 0, id, 1, first_attempt_at, '', 0, first_attempt_error, 0 FROM events WHERE id = ? AND first_attempt_at <> 0
		UNION ALL
		SELECT seq, event_id, attempt, at, target, status_code, error, duration_us FROM event_attempts WHERE event_id = ?
		ORDER BY 1`, eventID, eventID)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, func(s scanner) (*integrations.EventAttempt, error) {
		var a integrations.EventAttempt
		var seq, at, dur int64
		if err := s.Scan(&seq, &a.EventID, &a.Attempt, &at, &a.Target, &a.StatusCode, &a.Error, &dur); err != nil {
			return nil, err
		}
		a.At, a.Duration = fromMicros(at), time.Duration(dur)*time.Microsecond
		return &a, nil
	})
}

func (t *tx) ClaimEvents(worker string, limit int, now, leaseUntil time.Time) ([]*integrations.Event, error) {
	rows, err := t.query(`UPDATE events SET locked_by = ?, locked_until = ?
		WHERE seq IN (SELECT seq FROM events WHERE status = 'pending' AND next_attempt_at <= ? AND locked_until <= ?
			ORDER BY next_attempt_at, seq LIMIT ?`+t.db.dialect.SkipLocked+`)
		RETURNING `+eventColumnsBare,
		worker, micros(leaseUntil), micros(now), micros(now), limit)
	if err != nil {
		return nil, err
	}
	list, err := scanAll(rows, scanEvent)
	sort.Slice(list, func(i, j int) bool { return list[i].Seq < list[j].Seq })
	return list, err
}

// eventColumnsBare are eventColumns without the table alias, for RETURNING.
const eventColumnsBare = `seq, id, integration_id, installation_id, space_id, organization_id, type, payload,
	status, attempts, next_attempt_at, created_at, updated_at`

// AddAttempt adds an attempt of an event of the same transaction. Where the
// attempts have no foreign key to their events (PostgreSQL: migration 0007),
// nothing else checks that the event exists.
func (t *tx) AddAttempt(a *integrations.EventAttempt) error {
	_, err := t.exec(insertAttempt, attemptArgs(a)...)
	return t.insertErr(err, "This attempt")
}

const insertAttempt = `INSERT INTO event_attempts (event_id, attempt, at, target, status_code, error, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?)`

func attemptArgs(a *integrations.EventAttempt) []any {
	return []any{a.EventID, a.Attempt, micros(a.At), a.Target, a.StatusCode, a.Error, a.Duration.Microseconds()}
}

// RecordAttempt locks the event's row before it adds the attempt: by the
// update, when the worker holds the lease, else by a locking read. A
// concurrent delete of the event then waits for this transaction, and takes
// the attempt with the event, or has deleted it already, and the attempt
// fails: no attempt outlives its event.
func (t *tx) RecordAttempt(e *integrations.Event, a *integrations.EventAttempt, worker string) (bool, error) {
	held, err := affected(t.exec(`UPDATE events SET status = ?, attempts = ?, next_attempt_at = ?, locked_by = '', locked_until = 0, updated_at = ?
		WHERE id = ? AND locked_by = ?`,
		string(e.Status), e.Attempts, micros(e.NextAttemptAt), micros(t.now), e.ID, worker))
	if err != nil {
		return false, err
	}
	if !held {
		var one int
		err := t.queryRow(`SELECT 1 FROM events WHERE id = ?`+t.db.dialect.LockRow, e.ID).Scan(&one)
		if err := notFound(err, "Event %q not found.", e.ID); err != nil {
			return false, err
		}
	}
	return held, t.AddAttempt(a)
}

func (t *tx) RetryEvent(id string, at time.Time) error {
	ok, err := affected(t.exec(`UPDATE events SET status = 'pending', attempts = 0, next_attempt_at = ?, locked_by = '', locked_until = 0, updated_at = ? WHERE id = ?`,
		micros(at), micros(t.now), id))
	if err != nil {
		return err
	} else if !ok {
		return integrations.Errorf(integrations.ENOTFOUND, "Event %q not found.", id)
	}
	return nil
}

const deliveryColumns = `integration_id, tunnel_url, tunnel_all, url, format, signing_secret`

func (t *tx) InitDelivery(integrationID, signingSecret string) (*integrations.Delivery, error) {
	d, err := t.Delivery(integrationID)
	if !isNotFound(err) {
		return d, err
	}
	if _, err := t.exec(`INSERT INTO deliveries (integration_id, signing_secret) VALUES (?, ?) ON CONFLICT (integration_id) DO NOTHING`,
		integrationID, signingSecret); err != nil {
		return nil, t.insertErr(err, "These delivery settings")
	}
	return t.Delivery(integrationID)
}

// Delivery reads an integration's delivery settings, through the reference
// cache.
func (t *tx) Delivery(integrationID string) (*integrations.Delivery, error) {
	return ref(t, "delivery:"+integrationID, true, copyOf[integrations.Delivery], func(t *tx) (*integrations.Delivery, error) {
		var d integrations.Delivery
		var all int
		err := t.queryRow(`SELECT `+deliveryColumns+` FROM deliveries WHERE integration_id = ?`, integrationID).
			Scan(&d.IntegrationID, &d.TunnelURL, &all, &d.URL, &d.Format, &d.SigningSecret)
		d.TunnelAll = all != 0
		return &d, notFound(err, "No delivery settings for integration %q.", integrationID)
	})
}

func (t *tx) UpdateDelivery(d *integrations.Delivery) error {
	ok, err := affected(t.exec(`UPDATE deliveries SET tunnel_url = ?, tunnel_all = ?, url = ?, format = ?, signing_secret = ? WHERE integration_id = ?`,
		d.TunnelURL, boolInt(d.TunnelAll), d.URL, d.Format, d.SigningSecret, d.IntegrationID))
	if err != nil {
		return err
	} else if !ok {
		return integrations.Errorf(integrations.ENOTFOUND, "No delivery settings for integration %q.", d.IntegrationID)
	}
	return nil
}

func (t *tx) DeleteExpiredTokens(before time.Time) (int, error) {
	res, err := t.exec(`DELETE FROM tokens WHERE expires_at > 0 AND expires_at < ?`, micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
