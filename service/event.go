package service

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"time"

	"integrations"
)

// Events are written to an outbox in the same transaction as the change that
// causes them: a change that commits always has its events, one that fails
// never does. The delivery package sends them.

// previous is the state of an installation before a change, in events.
type previous struct {
	Status        integrations.Status `json:"status,omitempty"`
	Configuration json.RawMessage     `json:"configuration,omitempty"`
}

// eventPayload is the spec's Event for the types this server sends.
type eventPayload struct {
	EventID            string              `json:"eventId"`
	Type               string              `json:"type"`
	InstallationID     string              `json:"installationId,omitempty"`
	SpaceID            string              `json:"spaceId,omitempty"`
	Status             integrations.Status `json:"status,omitempty"`
	Previous           *previous           `json:"previous,omitempty"`
	PreviousVisibility string              `json:"previousVisibility,omitempty"`
	Visibility         string              `json:"visibility,omitempty"`
	Task               json.RawMessage     `json:"task,omitempty"`
}

// emit adds an event to the outbox, due at once unless delay says otherwise.
// An event due at once for an integration that has nowhere to receive it is
// recorded as failed right away, with the reason as its one attempt, as the
// dispatcher would record it a moment later: no event URL, no development
// tunnel (what GitBook does with the events of an integration it cannot
// reach). One due later waits: a tunnel may open meanwhile.
func emit(tx integrations.Tx, integrationID, orgID string, p eventPayload, delay time.Duration) (*integrations.Event, error) {
	p.EventID = integrations.NewEventID()
	payload, err := p.marshal()
	if err != nil {
		return nil, err
	}
	e := &integrations.Event{
		ID: p.EventID, IntegrationID: integrationID, InstallationID: p.InstallationID, SpaceID: p.SpaceID, OrganizationID: orgID,
		Type: p.Type, Payload: payload, Status: integrations.EventPending,
		NextAttemptAt: tx.Now().Add(delay), CreatedAt: tx.Now(), UpdatedAt: tx.Now(),
	}
	var first []*integrations.EventAttempt
	if delay == 0 {
		i, err := tx.IntegrationByID(integrationID)
		if err != nil {
			return nil, err
		}
		d, err := deliveryOf(tx, integrationID)
		if err != nil {
			return nil, err
		}
		if url, _, _, reason := route(i, d, orgID); url == "" {
			e.Status, e.Attempts = integrations.EventFailed, 1
			first = append(first, &integrations.EventAttempt{EventID: e.ID, Attempt: 1, At: tx.Now(), Error: "not delivered: " + reason})
		}
	}
	return e, tx.CreateEvent(e, first...)
}

// configOrEmpty returns configuration values, {} when there are none.
func configOrEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(`{}`)
	}
	return raw
}

func emitInstallationSetup(tx integrations.Tx, in *integrations.Installation, before *previous) error {
	_, err := emit(tx, in.IntegrationID, in.OrganizationID, eventPayload{Type: integrations.EventInstallationSetup, InstallationID: in.ID,
		Status: in.Status, Previous: before}, 0)
	return err
}

func emitInstallationDeleted(tx integrations.Tx, in *integrations.Installation) error {
	_, err := emit(tx, in.IntegrationID, in.OrganizationID, eventPayload{Type: integrations.EventInstallationDeleted, InstallationID: in.ID,
		Previous: &previous{Configuration: configOrEmpty(in.Configuration)}}, 0)
	return err
}

func emitSpaceInstallationSetup(tx integrations.Tx, si *integrations.SpaceInstallation, before *previous) error {
	_, err := emit(tx, si.IntegrationID, si.OrganizationID, eventPayload{Type: integrations.EventSpaceInstallationSetup,
		InstallationID: si.InstallationID, SpaceID: si.SpaceID, Status: si.Status, Previous: before}, 0)
	return err
}

func emitSpaceInstallationDeleted(tx integrations.Tx, si *integrations.SpaceInstallation) error {
	_, err := emit(tx, si.IntegrationID, si.OrganizationID, eventPayload{Type: integrations.EventSpaceInstallationDeleted,
		InstallationID: si.InstallationID, SpaceID: si.SpaceID, Previous: &previous{Configuration: configOrEmpty(si.Configuration)}}, 0)
	return err
}

// emitVisibilityUpdated tells every installation enabled on a space that its
// visibility changed.
func emitVisibilityUpdated(tx integrations.Tx, s *integrations.Space, before string) error {
	return forEach(func(p integrations.Page) ([]*integrations.Integration, int, error) {
		return tx.SpaceIntegrations(s.ID, integrations.IntegrationFilter{}, p)
	}, integrationCursor, func(i *integrations.Integration) error {
		in, err := tx.InstallationOf(i.ID, s.OrganizationID)
		if err != nil {
			return err
		}
		_, err = emit(tx, i.ID, s.OrganizationID, eventPayload{Type: integrations.EventSpaceVisibilityUpdated, InstallationID: in.ID,
			SpaceID: s.ID, PreviousVisibility: before, Visibility: s.Visibility}, 0)
		return err
	})
}

// emitSpaceDeleted tells every installation on a space that is being deleted
// that it is uninstalled from it.
func emitSpaceDeleted(tx integrations.Tx, spaceID string) error {
	return forEach(func(p integrations.Page) ([]*integrations.SpaceInstallation, int, error) {
		return tx.SpaceInstallations(integrations.SpaceInstallationFilter{SpaceID: spaceID}, p)
	}, spaceInstallationCursor, func(si *integrations.SpaceInstallation) error {
		return emitSpaceInstallationDeleted(tx, si)
	})
}

// QueueTask queues a task event for the calling integration, delivered after
// schedule seconds.
func (s *Service) QueueTask(ctx context.Context, name string, task json.RawMessage, schedule float64) error {
	c := caller(ctx)
	if !c.IsIntegration() {
		return forbidden("Only the integration's own token may queue its tasks.")
	}
	if schedule < 0 || schedule > integrations.MaxTaskSchedule {
		return integrations.Errorf(integrations.EINVALID, "schedule must be a number of seconds from 0 to %d.", integrations.MaxTaskSchedule)
	}
	if len(task) > integrations.MaxTaskBytes {
		return integrations.Errorf(integrations.EINVALID, "task is larger than %d bytes.", integrations.MaxTaskBytes)
	}
	return s.update(ctx, func(tx integrations.Tx) error {
		i, err := newRoles(tx, c).integrationForInstallations(name)
		if err != nil {
			return err
		}
		_, err = emit(tx, i.ID, i.OrganizationID, eventPayload{Type: integrations.EventTask, Task: task},
			time.Duration(schedule*float64(time.Second)))
		return err
	})
}

// integrationForEvents loads an integration whose events the caller may
// read: the members of the owning organization, whatever their role, and the
// integration's own tokens (an installation token reads the events of its
// installation only; the callers of integrationForEvents filter them).
// Events carry the configuration of every installation, other
// organizations' included, as the integration itself reads it: its owner's
// members see what their integration is told.
func (r *roles) integrationForEvents(name string) (Integration, error) {
	i, err := r.integration(name)
	if err != nil {
		return i, err
	}
	c := r.caller
	switch {
	case c.IsUser() && i.OwnerRole != "":
		return i, nil
	case (c.IsIntegration() || c.IsInstallation()) && c.IntegrationID == i.ID:
		return i, nil
	case c.IsUser():
		return i, forbidden("Only members of organization %q may read the events of %q.", i.OrganizationID, name)
	}
	return Integration{}, errNotFound("Integration", name)
}

// Events lists an integration's events, newest first. An installation token
// sees the events of its installation.
func (s *Service) Events(ctx context.Context, name string, p Paging) (List[*integrations.Event], error) {
	c := caller(ctx)
	var out List[*integrations.Event]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		i, err := newRoles(tx, c).integrationForEvents(name)
		if err != nil {
			return err
		}
		f := integrations.EventFilter{IntegrationID: i.ID}
		if c.IsInstallation() {
			f.InstallationID = c.InstallationID
		}
		out, err = list(s, p, []string{"events", name, c.ID()}, func(e *integrations.Event) integrations.Cursor {
			return integrations.Cursor{At: e.Seq, ID: e.ID}
		}, func(page integrations.Page) ([]*integrations.Event, int, error) {
			return tx.Events(f, page)
		})
		return err
	})
	return out, err
}

// EventWithAttempts is an event with the record of its delivery.
type EventWithAttempts struct {
	Event    *integrations.Event
	Attempts []*integrations.EventAttempt
}

// Event returns an event of an integration with its attempts.
func (s *Service) Event(ctx context.Context, name, id string) (EventWithAttempts, error) {
	c := caller(ctx)
	var out EventWithAttempts
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		i, err := newRoles(tx, c).integrationForEvents(name)
		if err != nil {
			return err
		}
		e, err := tx.Event(id)
		if err != nil || e.IntegrationID != i.ID || (c.IsInstallation() && e.InstallationID != c.InstallationID) {
			// Missing or another's: the same 404; only other errors pass.
			if err := ignoreNotFound(err); err != nil {
				return err
			}
			return errNotFound("Event", id)
		}
		attempts, err := tx.EventAttempts(id)
		out = EventWithAttempts{e, attempts}
		return err
	})
	return out, err
}

// RedeliverEvent makes an event pending again, due now and with a fresh
// budget of attempts, so that it is delivered once more whatever its status;
// the attempts made so far stay in its trace. Admins of the owning
// organization and the integration's own token may.
func (s *Service) RedeliverEvent(ctx context.Context, name, id string) (*integrations.Event, error) {
	c := caller(ctx)
	var out *integrations.Event
	err := s.update(ctx, func(tx integrations.Tx) error {
		i, err := newRoles(tx, c).integrationForEvents(name)
		if err != nil {
			return err
		}
		if c.IsUser() && i.OwnerRole != integrations.RoleAdmin {
			return forbidden("Only admins of organization %q may redeliver the events of %q.", i.OrganizationID, name)
		}
		if c.IsInstallation() {
			return forbidden("Redelivering events needs the integration's token or an admin's.")
		}
		e, err := tx.Event(id)
		if err != nil || e.IntegrationID != i.ID {
			// Missing or another's: the same 404; only other errors pass.
			if err := ignoreNotFound(err); err != nil {
				return err
			}
			return errNotFound("Event", id)
		}
		if err := tx.RetryEvent(id, tx.Now()); err != nil {
			return err
		}
		out, err = tx.Event(id)
		return err
	})
	return out, err
}

// deliveryFor loads an integration's delivery settings for its admins.
func (r *roles) deliveryFor(name string) (Integration, *integrations.Delivery, error) {
	c := r.caller
	if err := needUser(c); err != nil {
		return Integration{}, nil, err
	}
	i, err := r.integration(name)
	if err != nil {
		return i, nil, err
	}
	if i.OwnerRole != integrations.RoleAdmin {
		return i, nil, forbidden("Only admins of organization %q may change where the events of %q go.", i.OrganizationID, name)
	}
	d, err := r.tx.InitDelivery(i.ID, newSigningSecret())
	return i, d, err
}

func newSigningSecret() string { return hex.EncodeToString(randomBytes(32)) }

// SetDevMode turns development mode on: the events of the integration's
// owner (of every organization with all) go to the tunnel.
func (s *Service) SetDevMode(ctx context.Context, name, tunnelURL string, all bool) error {
	if l := len(tunnelURL); l < 1 || l > 256 {
		return integrations.Errorf(integrations.EINVALID, "tunnelUrl must be 1 to 256 characters.")
	}
	if u, err := url.Parse(tunnelURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return integrations.Errorf(integrations.EINVALID, "tunnelUrl must be an http or https URL.")
	}
	return s.update(ctx, func(tx integrations.Tx) error {
		_, d, err := newRoles(tx, caller(ctx)).deliveryFor(name)
		if err != nil {
			return err
		}
		d.TunnelURL, d.TunnelAll = tunnelURL, all
		return tx.UpdateDelivery(d)
	})
}

// DisableDevMode turns development mode off.
func (s *Service) DisableDevMode(ctx context.Context, name string) error {
	return s.update(ctx, func(tx integrations.Tx) error {
		_, d, err := newRoles(tx, caller(ctx)).deliveryFor(name)
		if err != nil {
			return err
		}
		d.TunnelURL, d.TunnelAll = "", false
		return tx.UpdateDelivery(d)
	})
}

// DeliverySettings returns where an integration's events go.
func (s *Service) DeliverySettings(ctx context.Context, name string) (*integrations.Delivery, error) {
	var out *integrations.Delivery
	err := s.update(ctx, func(tx integrations.Tx) error {
		var err error
		_, out, err = newRoles(tx, caller(ctx)).deliveryFor(name)
		return err
	})
	return out, err
}

// SetEventTarget sets the URL that receives an integration's events outside
// development mode, and its format; an empty URL removes it.
func (s *Service) SetEventTarget(ctx context.Context, name, target, format string) (*integrations.Delivery, error) {
	if format == "" {
		format = integrations.FormatRuntime
	}
	if format != integrations.FormatRuntime && format != integrations.FormatWebhook {
		return nil, integrations.Errorf(integrations.EINVALID, "format must be runtime or webhook.")
	}
	if target != "" {
		if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(target) > 2048 {
			return nil, integrations.Errorf(integrations.EINVALID, "url must be an http or https URL of at most 2048 characters.")
		}
	}
	var out *integrations.Delivery
	err := s.update(ctx, func(tx integrations.Tx) error {
		_, d, err := newRoles(tx, caller(ctx)).deliveryFor(name)
		if err != nil {
			return err
		}
		d.URL, d.Format = target, format
		out = d
		return tx.UpdateDelivery(d)
	})
	return out, err
}
