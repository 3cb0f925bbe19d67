package integrations

import (
	"encoding/json"
	"time"
)

// EventStatus is where an event is in its delivery.
type EventStatus string

// The statuses of events. The API shows pending events as failed until they
// succeed: the spec knows only success and failed.
const (
	EventPending EventStatus = "pending" // waiting for its next attempt
	EventSuccess EventStatus = "success" // the receiver answered 2xx
	EventFailed  EventStatus = "failed"  // given up, or refused by the receiver
)

// The event types this server sends (the spec's Event types).
const (
	EventInstallationSetup        = "installation_setup"
	EventInstallationDeleted      = "installation_deleted"
	EventSpaceInstallationSetup   = "space_installation_setup"
	EventSpaceInstallationDeleted = "space_installation_deleted"
	EventSpaceVisibilityUpdated   = "space_visibility_updated"
	EventTask                     = "task"
)

// EventLeaseDuration is how long a worker holds an event it took: if it dies,
// another takes the event once the lease runs out.
const EventLeaseDuration = 2 * time.Minute

// MaxTaskSchedule is the spec's limit on a task's delay, in seconds.
const MaxTaskSchedule = 86400

// MaxTaskBytes bounds the JSON of a task's payload.
const MaxTaskBytes = 256 << 10

// Event is an event for an integration, kept in an outbox written in the
// same transaction as the change that caused it, then delivered.
type Event struct {
	ID             string // also the payload's eventId
	Seq            int64  // the order of creation, assigned by the store
	IntegrationID  string
	InstallationID string // "" for events of no installation (tasks)
	SpaceID        string // "" for events of no space
	OrganizationID string // the organization the event comes from, for routing
	Type           string
	Payload        json.RawMessage // the spec's Event
	Status         EventStatus
	Attempts       int // attempts made since the event was created or last redelivered
	NextAttemptAt  time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// EventAttempt records one attempt to deliver an event.
type EventAttempt struct {
	EventID    string
	Attempt    int // its number since the event was created or last redelivered
	At         time.Time
	Target     string // the URL, or "" when there was none
	StatusCode int    // 0 when no response came back
	Error      string // what went wrong, "" on success
	Duration   time.Duration
}

// maxAttemptError bounds the error text stored with an attempt.
const maxAttemptError = 1000

// TruncateAttemptError bounds the error text stored with an attempt.
func TruncateAttemptError(s string) string {
	if len(s) > maxAttemptError {
		return s[:maxAttemptError] + "..."
	}
	return s
}

// Delivery is where an integration's events go: to the development tunnel
// while development mode is on for their organization, else to the
// publisher's event URL, in the runtime's format (multipart, what GitBook's
// @gitbook/runtime reads) or as a signed JSON webhook.
type Delivery struct {
	IntegrationID string
	TunnelURL     string // development mode; "" when off
	TunnelAll     bool   // the tunnel gets the events of every organization, not only the owner's
	URL           string // "" when none
	Format        string // FormatRuntime or FormatWebhook
	SigningSecret string // signs webhooks; given to the runtime as signingSecrets.integration
}

// Event target formats.
const (
	FormatRuntime = "runtime"
	FormatWebhook = "webhook"
)

// EventFilter selects events; listings are newest first.
type EventFilter struct {
	IntegrationID  string
	InstallationID string
}
