package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"integrations"
	"integrations/service"
)

type eventJSON struct {
	ID             string          `json:"id"`
	IntegrationID  string          `json:"integrationId"`
	InstallationID string          `json:"installationId,omitempty"`
	CreatedAt      string          `json:"createdAt"`
	Payload        json.RawMessage `json:"payload"`
	Status         string          `json:"status"`
}

// event encodes an event. The spec knows only success and failed: an event
// is failed until it succeeds; its trace tells whether it will be retried.
func event(e *integrations.Event) eventJSON {
	status := "failed"
	if e.Status == integrations.EventSuccess {
		status = "success"
	}
	return eventJSON{ID: e.ID, IntegrationID: e.IntegrationID, InstallationID: e.InstallationID, CreatedAt: timestamp(e.CreatedAt),
		Payload: e.Payload, Status: status}
}

type traceLog struct {
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
	Level     string `json:"level"`
}

// trace tells the story of an event's delivery, one line per attempt,
// numbered in the order they were made: a redelivery starts a new budget of
// attempts (integrations.EventAttempt.Attempt counts from 1 again), and the
// trace goes on counting.
func trace(e service.EventWithAttempts) []traceLog {
	logs := []traceLog{}
	for n, a := range e.Attempts {
		l := traceLog{Timestamp: timestamp(a.At), Level: "info"}
		number := n + 1
		target := a.Target
		if target == "" {
			target = "no target"
		}
		switch {
		case a.Error == "":
			l.Message = fmt.Sprintf("attempt %d to %s: %d in %d ms", number, target, a.StatusCode, a.Duration.Milliseconds())
		case a.StatusCode != 0:
			l.Level = "error"
			l.Message = fmt.Sprintf("attempt %d to %s: %s (%d ms)", number, target, a.Error, a.Duration.Milliseconds())
		default:
			l.Level = "error"
			l.Message = fmt.Sprintf("attempt %d to %s: %s", number, target, a.Error)
		}
		logs = append(logs, l)
	}
	if e.Event.Status == integrations.EventPending {
		logs = append(logs, traceLog{Timestamp: timestamp(e.Event.NextAttemptAt), Level: "info",
			Message: fmt.Sprintf("pending: attempt %d is due at %s", len(e.Attempts)+1, timestamp(e.Event.NextAttemptAt))})
	}
	return logs
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	found, err := s.svc.Events(r.Context(), r.PathValue("integrationName"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(found, event))
	return nil
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := s.svc.Event(r.Context(), r.PathValue("integrationName"), r.PathValue("eventId"))
	if err != nil {
		return err
	}
	var out struct {
		Event eventJSON `json:"event"`
		Trace struct {
			Logs []traceLog `json:"logs"`
		} `json:"trace"`
	}
	out.Event = event(e.Event)
	out.Trace.Logs = trace(e)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) redeliverEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := s.svc.RedeliverEvent(r.Context(), r.PathValue("integrationName"), r.PathValue("eventId"))
	if err != nil {
		return err
	}
	// An extension: it says what the spec's two statuses cannot, that the
	// event waits for its next attempt.
	out := event(e)
	out.Status = string(e.Status)
	writeJSON(w, http.StatusAccepted, map[string]any{"event": out})
	return nil
}

func (s *Server) queueTask(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Task     json.RawMessage `json:"task"`
		Schedule *float64        `json:"schedule"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	var task map[string]any
	if len(body.Task) == 0 || json.Unmarshal(body.Task, &task) != nil || task == nil {
		return invalid("task is required and must be an object.")
	}
	schedule := 0.0
	if body.Schedule != nil {
		schedule = *body.Schedule
	}
	if err := s.svc.QueueTask(r.Context(), r.PathValue("integrationName"), body.Task, schedule); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) setDevMode(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		TunnelURL string `json:"tunnelUrl"`
		All       bool   `json:"all"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if err := s.svc.SetDevMode(r.Context(), r.PathValue("integrationName"), body.TunnelURL, body.All); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) disableDevMode(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DisableDevMode(r.Context(), r.PathValue("integrationName")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusResetContent)
	return nil
}

type eventSettingsJSON struct {
	URL           string `json:"url"`
	Format        string `json:"format"`
	SigningSecret string `json:"signingSecret"`
	TunnelURL     string `json:"tunnelUrl,omitempty"`
	TunnelAll     bool   `json:"tunnelAll"`
}

func eventSettings(d *integrations.Delivery) eventSettingsJSON {
	return eventSettingsJSON{URL: d.URL, Format: d.Format, SigningSecret: d.SigningSecret, TunnelURL: d.TunnelURL, TunnelAll: d.TunnelAll}
}

func (s *Server) getEventSettings(w http.ResponseWriter, r *http.Request) error {
	d, err := s.svc.DeliverySettings(r.Context(), r.PathValue("integrationName"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, eventSettings(d))
	return nil
}

func (s *Server) putEventSettings(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		URL    string `json:"url"`
		Format string `json:"format"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.URL == "" {
		return invalid("url is required; DELETE removes it.")
	}
	d, err := s.svc.SetEventTarget(r.Context(), r.PathValue("integrationName"), body.URL, body.Format)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, eventSettings(d))
	return nil
}

func (s *Server) deleteEventSettings(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.svc.SetEventTarget(r.Context(), r.PathValue("integrationName"), "", ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type environmentJSON struct {
	APIEndpoint string `json:"apiEndpoint"`
	APITokens   struct {
		Integration  string `json:"integration"`
		Installation string `json:"installation,omitempty"`
	} `json:"apiTokens"`
	AuthToken         string                 `json:"authToken"` // deprecated by the spec, still read by older runtimes
	Integration       integrationJSON        `json:"integration"`
	Installation      *installationJSON      `json:"installation,omitempty"`
	SpaceInstallation *spaceInstallationJSON `json:"spaceInstallation,omitempty"`
	Secrets           map[string]string      `json:"secrets"`
	SigningSecrets    struct {
		Integration       string `json:"integration"`
		Installation      string `json:"installation,omitempty"`
		SpaceInstallation string `json:"spaceInstallation,omitempty"`
	} `json:"signingSecrets"`
}

// Environment encodes the runtime's environment of a delivery: the spec's
// IntegrationEnvironment. The integration calls this server back at
// apiEndpoint with apiTokens.
func (s *Server) Environment(job *service.Job) ([]byte, error) {
	var env environmentJSON
	env.APIEndpoint = s.cfg.PublicURL
	env.APITokens.Integration = job.IntegrationToken
	env.APITokens.Installation = job.InstallationToken
	env.AuthToken = job.IntegrationToken
	if job.InstallationToken != "" {
		env.AuthToken = job.InstallationToken
	}
	env.Integration = s.integration(job.Integration)
	if job.Installation != nil {
		in := s.installation(*job.Installation)
		env.Installation = &in
	}
	if job.SpaceInstallation != nil {
		si := s.spaceInstallation(*job.SpaceInstallation)
		env.SpaceInstallation = &si
	}
	env.Secrets = job.Secrets
	if env.Secrets == nil {
		env.Secrets = map[string]string{}
	}
	env.SigningSecrets.Integration = job.SigningSecrets.Integration
	env.SigningSecrets.Installation = job.SigningSecrets.Installation
	env.SigningSecrets.SpaceInstallation = job.SigningSecrets.SpaceInstallation
	return json.Marshal(env)
}
