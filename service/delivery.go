package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"integrations"
)

// The operations of the event dispatcher (package delivery). They act as the
// server itself: no caller, no access rules.

// Job is everything needed to deliver one event.
type Job struct {
	Event *integrations.Event
	// URL is where to send the event, "" when the integration has nowhere to
	// receive it; Format says how (integrations.FormatRuntime or FormatWebhook).
	URL    string
	Format string
	Tunnel bool // the URL is the development tunnel
	// Why explains an empty URL.
	Why string

	Integration       Integration
	Installation      *Installation      // nil for tasks, or when the installation is gone
	SpaceInstallation *SpaceInstallation // nil unless the event is about a space that still has it
	Secrets           map[string]string

	// Tokens and signing secrets for the runtime's environment.
	IntegrationToken, InstallationToken string
	SigningSecrets                      SigningSecrets

	// Settled is set when the event had nowhere to go: ClaimJobs recorded
	// its attempt and failure already.
	Settled bool
}

// SigningSecrets are the runtime's signingSecrets.
type SigningSecrets struct {
	Integration, Installation, SpaceInstallation string
}

// DeliveryTokenTTL is how long the tokens given to a delivered event last.
const DeliveryTokenTTL = time.Hour

// ClaimJobs leases up to n due events to a worker for lease and prepares
// their delivery, all in one transaction: where each goes, and its
// environment — the integration, its installation and space installation as
// they are now, and tokens with which the receiver calls the API back. An
// event with nowhere to go is recorded as failed at once (Job.Settled).
//
// The transaction is the store's UpdateLeases: the claims of several
// replicas skip each other's events instead of conflicting. Each lookup sees
// what was committed when it ran, and prepare takes an object that is gone
// (ENOTFOUND) for one removed before the event was claimed.
func (s *Service) ClaimJobs(ctx context.Context, worker string, n int, lease time.Duration) ([]*Job, error) {
	var jobs []*Job
	var minted []mintedToken
	err := s.store.UpdateLeases(ctx, func(tx integrations.Tx) error {
		jobs, minted = nil, nil
		events, err := tx.ClaimEvents(worker, n, tx.Now(), tx.Now().Add(lease))
		if err != nil {
			return err
		}
		for _, e := range events {
			job, err := s.prepare(tx, e, &minted)
			if err != nil {
				return err
			}
			if job.URL == "" {
				next := *e
				next.Attempts++
				next.Status = integrations.EventFailed
				a := &integrations.EventAttempt{EventID: e.ID, Attempt: next.Attempts, At: tx.Now(), Error: "not delivered: " + job.Why}
				if _, err := tx.RecordAttempt(&next, a, worker); err != nil {
					return err
				}
				job.Settled = true
			}
			jobs = append(jobs, job)
		}
		return nil
	})
	if err == nil {
		s.tokens.add(minted)
	}
	return jobs, err
}

// prepare decides where an event goes and gathers its environment.
func (s *Service) prepare(tx integrations.Tx, e *integrations.Event, minted *[]mintedToken) (*Job, error) {
	job := &Job{Event: e}
	i, err := tx.IntegrationByID(e.IntegrationID)
	if integrations.ErrorCode(err) == integrations.ENOTFOUND {
		job.Why = "the integration was unpublished"
		return job, nil
	} else if err != nil {
		return nil, err
	}
	job.Integration = Integration{Integration: i}
	job.Secrets = i.Secrets
	d, err := deliveryOf(tx, i.ID)
	if err != nil {
		return nil, err
	}
	if job.URL, job.Format, job.Tunnel, job.Why = route(i, d, e.OrganizationID); job.URL == "" {
		return job, nil
	}
	job.SigningSecrets.Integration = d.SigningSecret
	if job.IntegrationToken, err = s.deliveryToken(tx, integrations.TokenIntegration, i.ID, "", minted); err != nil {
		return nil, err
	}
	if e.InstallationID == "" {
		return job, nil
	}
	in, err := tx.Installation(e.InstallationID)
	if integrations.ErrorCode(err) == integrations.ENOTFOUND {
		return job, nil // uninstalled since: the event says so itself
	} else if err != nil {
		return nil, err
	}
	if err := tx.CountInstallationSpaces(in); err != nil {
		return nil, err
	}
	job.Installation = &Installation{Installation: in}
	job.SigningSecrets.Installation = derive(d.SigningSecret, "installation:"+in.ID)
	if job.InstallationToken, err = s.deliveryToken(tx, integrations.TokenInstallation, i.ID, in.ID, minted); err != nil {
		return nil, err
	}
	if e.SpaceID == "" {
		return job, nil
	}
	si, err := tx.SpaceInstallation(in.ID, e.SpaceID)
	if integrations.ErrorCode(err) == integrations.ENOTFOUND {
		return job, nil
	} else if err != nil {
		return nil, err
	}
	job.SpaceInstallation = &SpaceInstallation{SpaceInstallation: si}
	job.SigningSecrets.SpaceInstallation = derive(d.SigningSecret, "space:"+in.ID+"/"+si.SpaceID)
	return job, nil
}

// deliveryOf returns an integration's delivery settings: none (zero
// settings) until its publisher sets an event URL or a development tunnel.
func deliveryOf(tx integrations.Tx, integrationID string) (*integrations.Delivery, error) {
	d, err := tx.Delivery(integrationID)
	if integrations.ErrorCode(err) == integrations.ENOTFOUND {
		return &integrations.Delivery{}, nil
	}
	return d, err
}

// route says where an event of an installation on the organization orgID
// ("" for the integration itself, as tasks are) goes: to the development
// tunnel when it takes the organization's events, else to the event URL;
// url is "" when there is neither, and why says so.
func route(i *integrations.Integration, d *integrations.Delivery, orgID string) (url, format string, tunnel bool, why string) {
	switch {
	case d.TunnelURL != "" && (d.TunnelAll || orgID == i.OrganizationID || orgID == ""):
		return d.TunnelURL, integrations.FormatRuntime, true, ""
	case d.URL != "":
		return d.URL, d.Format, false, ""
	}
	return "", "", false, "integration " + i.Name + " has no development tunnel for this organization and no event URL"
}

// deliveryToken returns a token for the environment of a delivery: one this
// process minted earlier for the same integration and installation while it
// has at least half of its life left, or a new one, noted in minted.
func (s *Service) deliveryToken(tx integrations.Tx, kind integrations.TokenKind, integrationID, installationID string, minted *[]mintedToken) (string, error) {
	key := integrationID + "/" + installationID
	if secret := s.tokens.get(key, tx.Now().Add(DeliveryTokenTTL/2)); secret != "" {
		return secret, nil
	}
	for _, m := range *minted {
		if m.key == key {
			return m.secret, nil
		}
	}
	secret := integrations.NewTokenSecret(kind)
	expires := tx.Now().Add(DeliveryTokenTTL)
	err := tx.CreateToken(&integrations.Token{Hash: integrations.HashToken(secret), Kind: kind, IntegrationID: integrationID,
		InstallationID: installationID, ExpiresAt: expires, CreatedAt: tx.Now()})
	*minted = append(*minted, mintedToken{key, secret, expires})
	return secret, err
}

// mintedToken is a delivery token, kept for reuse by later deliveries.
type mintedToken struct {
	key     string // integration/installation
	secret  string
	expires time.Time
}

// tokenCache keeps the delivery tokens this process minted. They live in the
// database like any token: deleting their installation or integration
// deletes them, and no event of a deleted installation gets its token.
type tokenCache struct {
	mu     sync.Mutex
	tokens map[string]mintedToken
}

// get returns the token of key if it stays valid until at least until.
func (c *tokenCache) get(key string, until time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.tokens[key]; ok && m.expires.After(until) {
		return m.secret
	}
	return ""
}

// add keeps the tokens that a committed transaction minted.
func (c *tokenCache) add(minted []mintedToken) {
	if len(minted) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == nil || len(c.tokens) > 100_000 {
		c.tokens = map[string]mintedToken{}
	}
	for _, m := range minted {
		c.tokens[m.key] = m
	}
}

// derive returns a secret derived from the integration's signing secret, so
// that installations get secrets of their own without storing them.
func derive(secret, label string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(label))
	return hex.EncodeToString(m.Sum(nil))
}

// RecordAttempt stores the outcome of an attempt: e carries the event's new
// status, attempt count and next attempt time. It reports whether the worker
// still held the event. It runs in the store's UpdateLeases: the lease,
// checked by the update itself, is all that keeps it right.
func (s *Service) RecordAttempt(ctx context.Context, e *integrations.Event, a *integrations.EventAttempt, worker string) (bool, error) {
	var held bool
	err := s.store.UpdateLeases(ctx, func(tx integrations.Tx) error {
		var err error
		held, err = tx.RecordAttempt(e, a, worker)
		return err
	})
	return held, err
}

// DeleteExpiredTokens removes expired temporary tokens.
func (s *Service) DeleteExpiredTokens(ctx context.Context) (int, error) {
	var n int
	err := s.update(ctx, func(tx integrations.Tx) error {
		var err error
		n, err = tx.DeleteExpiredTokens(tx.Now())
		return err
	})
	return n, err
}
