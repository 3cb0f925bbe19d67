package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"integrations"
)

// The operations of the event dispatcher (package delivery). They act as the
// server itself: no caller, no access rules.

// ClaimEvents leases up to n due events to a worker for lease.
func (s *Service) ClaimEvents(ctx context.Context, worker string, n int, lease time.Duration) ([]*integrations.Event, error) {
	var out []*integrations.Event
	err := s.update(ctx, func(tx integrations.Tx) error {
		var err error
		out, err = tx.ClaimEvents(worker, n, tx.Now(), tx.Now().Add(lease))
		return err
	})
	return out, err
}

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
}

// SigningSecrets are the runtime's signingSecrets.
type SigningSecrets struct {
	Integration, Installation, SpaceInstallation string
}

// DeliveryTokenTTL is how long the tokens given to a delivered event last.
const DeliveryTokenTTL = time.Hour

// PrepareDelivery decides where an event goes and gathers its environment:
// the integration, its installation and space installation as they are now,
// and fresh tokens with which the receiver calls the API back.
func (s *Service) PrepareDelivery(ctx context.Context, e *integrations.Event) (*Job, error) {
	job := &Job{Event: e}
	err := s.update(ctx, func(tx integrations.Tx) error {
		*job = Job{Event: e}
		i, err := tx.IntegrationByID(e.IntegrationID)
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			job.Why = "the integration was unpublished"
			return nil
		} else if err != nil {
			return err
		}
		job.Integration = Integration{Integration: i}
		job.Secrets = i.Secrets
		d, err := tx.InitDelivery(i.ID, newSigningSecret())
		if err != nil {
			return err
		}
		switch {
		case d.TunnelURL != "" && (d.TunnelAll || e.OrganizationID == i.OrganizationID || e.OrganizationID == ""):
			job.URL, job.Format, job.Tunnel = d.TunnelURL, integrations.FormatRuntime, true
		case d.URL != "":
			job.URL, job.Format = d.URL, d.Format
		default:
			job.Why = "integration " + i.Name + " has no development tunnel for this organization and no event URL"
			return nil
		}
		job.SigningSecrets.Integration = d.SigningSecret
		if job.IntegrationToken, err = mintToken(tx, integrations.TokenIntegration, i.ID, ""); err != nil {
			return err
		}
		if e.InstallationID == "" {
			return nil
		}
		in, err := tx.Installation(e.InstallationID)
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			return nil // uninstalled since: the event says so itself
		} else if err != nil {
			return err
		}
		job.Installation = &Installation{Installation: in}
		job.SigningSecrets.Installation = derive(d.SigningSecret, "installation:"+in.ID)
		if job.InstallationToken, err = mintToken(tx, integrations.TokenInstallation, i.ID, in.ID); err != nil {
			return err
		}
		if e.SpaceID == "" {
			return nil
		}
		si, err := tx.SpaceInstallation(in.ID, e.SpaceID)
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		job.SpaceInstallation = &SpaceInstallation{SpaceInstallation: si}
		job.SigningSecrets.SpaceInstallation = derive(d.SigningSecret, "space:"+in.ID+"/"+si.SpaceID)
		return nil
	})
	return job, err
}

// mintToken creates a token for a delivery.
func mintToken(tx integrations.Tx, kind integrations.TokenKind, integrationID, installationID string) (string, error) {
	secret := integrations.NewTokenSecret(kind)
	err := tx.CreateToken(&integrations.Token{Hash: integrations.HashToken(secret), Kind: kind, IntegrationID: integrationID,
		InstallationID: installationID, ExpiresAt: tx.Now().Add(DeliveryTokenTTL), CreatedAt: tx.Now()})
	return secret, err
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
// still held the event.
func (s *Service) RecordAttempt(ctx context.Context, e *integrations.Event, a *integrations.EventAttempt, worker string) (bool, error) {
	var held bool
	err := s.update(ctx, func(tx integrations.Tx) error {
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
