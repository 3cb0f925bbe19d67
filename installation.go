package integrations

import (
	"bytes"
	"encoding/json"
	"time"
)

// Status is the status of an installation or space installation.
type Status string

// The spec's IntegrationInstallationStatus values.
const (
	StatusActive  Status = "active"
	StatusPending Status = "pending"
	StatusPaused  Status = "paused"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == StatusActive || s == StatusPending || s == StatusPaused
}

// Installation is an integration installed on an organization.
type Installation struct {
	ID             string
	IntegrationID  string
	OrganizationID string
	Status         Status
	SpaceSelection string          // all or selected
	SiteSelection  string          // all or selected
	Configuration  json.RawMessage // a JSON object, kept as given
	ExternalIDs    []string
	CreatedAt      time.Time
	UpdatedAt      time.Time

	// Filled in by reads.
	IntegrationName string
	Spaces          int // the number of spaces the installation is enabled on
}

// SpaceInstallation is an installation enabled on one space.
type SpaceInstallation struct {
	InstallationID string
	SpaceID        string
	Status         Status
	Configuration  json.RawMessage // a JSON object, kept as given
	ExternalIDs    []string
	CreatedAt      time.Time
	UpdatedAt      time.Time

	// Filled in by reads.
	IntegrationID   string
	IntegrationName string
	OrganizationID  string
}

// MaxExternalIDs is the spec's limit on externalIds.
const MaxExternalIDs = 5

// ValidateExternalIDs checks externalIds against the spec.
func ValidateExternalIDs(ids []string) error {
	if len(ids) > MaxExternalIDs {
		return Errorf(EINVALID, "externalIds has more than %d items", MaxExternalIDs)
	}
	for i, id := range ids {
		if id == "" || len(id) > 512 {
			return Errorf(EINVALID, "externalIds[%d] must be 1 to 512 characters", i)
		}
	}
	return nil
}

// ValidateSelection checks a space_selection or site_selection value.
func ValidateSelection(field, v string) error {
	if v != "all" && v != "selected" {
		return Errorf(EINVALID, "%s must be all or selected", field)
	}
	return nil
}

// DecodeConfiguration parses configuration values, which must form a JSON
// object. Numbers stay json.Number so that nothing is rounded.
func DecodeConfiguration(field string, raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, Errorf(EINVALID, "%s must be a JSON object", field)
	}
	return m, nil
}

// ConfiguredStatus returns the status that configuration values give an
// installation on a level (account or space) of the integration: pending
// while a required property is missing, active otherwise. A paused
// installation stays paused. Values that contradict the form are refused.
func ConfiguredStatus(current Status, form *Configuration, field string, raw json.RawMessage) (Status, error) {
	values, err := DecodeConfiguration(field, raw)
	if err != nil {
		return "", err
	}
	complete, err := form.CheckValues(field, values)
	if err != nil {
		return "", err
	}
	return statusOf(current, complete), nil
}

// RecomputedStatus is the status that stored configuration values give an
// installation once its integration's form changed (a new publication): as
// ConfiguredStatus, but values the new form contradicts are kept and do not
// count against it, since they were valid when they were given.
func RecomputedStatus(current Status, form *Configuration, raw json.RawMessage) Status {
	values, err := DecodeConfiguration("configuration", raw)
	if err != nil {
		return current
	}
	return statusOf(current, form.complete(values))
}

func statusOf(current Status, complete bool) Status {
	switch {
	case current == StatusPaused:
		return StatusPaused
	case complete:
		return StatusActive
	default:
		return StatusPending
	}
}
