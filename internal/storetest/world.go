package storetest

import (
	"encoding/json"
	"testing"

	"integrations"
)

// RefWorld creates one object of each kind that the reference cache holds:
// user alice with her token "hash-alice", organization acme with alice as
// admin, space handbook, integration int1 (slack) installed on acme as
// inst1, and int1's delivery settings.
func RefWorld(t *testing.T, s integrations.Store) {
	t.Helper()
	err := s.Update(t.Context(), func(tx integrations.Tx) error {
		now := tx.Now()
		for _, err := range []error{
			tx.CreateUser(&integrations.User{ID: "alice", DisplayName: "Alice", Email: "alice@example.com", CreatedAt: now}),
			tx.CreateToken(&integrations.Token{Hash: "hash-alice", Kind: integrations.TokenUser, UserID: "alice", CreatedAt: now}),
			tx.CreateOrganization(&integrations.Organization{ID: "acme", Title: "Acme", EmailDomains: []string{}, CreatedAt: now}),
			tx.PutMember(&integrations.Member{OrganizationID: "acme", UserID: "alice", Role: integrations.RoleAdmin, JoinedAt: now}),
			tx.CreateSpace(&integrations.Space{ID: "handbook", OrganizationID: "acme", Title: "Handbook", Visibility: "private", DefaultLevel: "inherit", CreatedAt: now, UpdatedAt: now}),
			tx.CreateIntegration(&integrations.Integration{ID: "int1", Name: "slack", OrganizationID: "acme", Version: 1, Runtime: "v1", Title: "Slack",
				Visibility: "public", Target: "all", Scopes: []string{}, Categories: []string{}, CreatedAt: now, UpdatedAt: now}),
			tx.CreateInstallation(&integrations.Installation{ID: "inst1", IntegrationID: "int1", OrganizationID: "acme", Status: integrations.StatusActive,
				SpaceSelection: "selected", SiteSelection: "selected", Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: now, UpdatedAt: now}),
		} {
			if err != nil {
				return err
			}
		}
		_, err := tx.InitDelivery("int1", "secret-1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
