package spectest

import (
	"net/http"
	"strings"
	"testing"
)

// The validator must really apply the OpenAPI 3.1 document: these responses
// must pass or fail exactly as the document says.
func TestValidatorFollowsTheDocument(t *testing.T) {
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	member := func(role string) string {
		return `{"items":[{"object":"member","id":"u1","role":` + role + `,"disabled":false,"joinedAt":"2026-01-01T00:00:00.000Z","sso":false,"spaces":0,"teams":0,"sites":0,
			"user":{"object":"user","id":"u1","displayName":"U","urls":{"location":"http://x/v1/users/u1"}}}],"count":1}`
	}
	blocks := `[{"name":"slack","blocks":[{"id":"m","title":"Message"}]}]`
	tests := []struct {
		name, method, path string
		status             int
		body               string
		ok                 bool
	}{
		{"blocks", "GET", "/v1/spaces/s1/integration-blocks", 200, blocks, true},
		{"block title too short", "GET", "/v1/spaces/s1/integration-blocks", 200, `[{"name":"slack","blocks":[{"id":"m","title":"M"}]}]`, false},
		{"blocks not an array", "GET", "/v1/spaces/s1/integration-blocks", 200, `{"items":[]}`, false},
		{"block without blocks", "GET", "/v1/spaces/s1/integration-blocks", 200, `[{"name":"slack"}]`, false},
		{"member role null (3.1 type null)", "GET", "/v1/orgs/o1/members", 200, member("null"), true},
		{"member role admin", "GET", "/v1/orgs/o1/members", 200, member(`"admin"`), true},
		{"member role unknown", "GET", "/v1/orgs/o1/members", 200, member(`"boss"`), false},
		{"declared 404", "GET", "/v1/spaces/s1/integration-blocks", 404, `{"error":{"code":404,"message":"Space not found."}}`, true},
		{"404 with wrong code", "GET", "/v1/spaces/s1/integration-blocks", 404, `{"error":{"code":400,"message":"x"}}`, false},
		{"404 without message", "GET", "/v1/spaces/s1/integration-blocks", 404, `{"error":{"code":404}}`, false},
		{"flat error", "GET", "/v1/spaces/s1/integrations", 401, `{"message":"no"}`, false},
		{"undeclared 401 in error shape", "GET", "/v1/spaces/s1/integrations", 401, `{"error":{"code":401,"message":"no"}}`, true},
		{"undeclared success status", "GET", "/v1/spaces/s1/integrations", 201, `{"items":[]}`, false},
		{"205 with a body", "DELETE", "/v1/spaces/s1", 205, `{}`, false},
		{"205 without a body", "DELETE", "/v1/spaces/s1", 205, ``, true},
		{"unknown path with an error", "GET", "/v1/nothing/here", 404, `{"error":{"code":404,"message":"No route."}}`, true},
		{"unknown path with a success", "GET", "/v1/nothing/here", 200, `{}`, false},
		{"user without urls", "GET", "/v1/user", 200, `{"object":"user","id":"u1","displayName":"U"}`, false},
		{"user location not a URI", "GET", "/v1/user", 200, `{"object":"user","id":"u1","displayName":"U","urls":{"location":"not a uri"}}`, false},
		{"user location relative", "GET", "/v1/user", 200, `{"object":"user","id":"u1","displayName":"U","urls":{"location":"/v1/users/u1"}}`, false},
		{"user location absolute", "GET", "/v1/user", 200, `{"object":"user","id":"u1","displayName":"U","urls":{"location":"http://127.0.0.1:8080/v1/users/u1"}}`, true},
		{"timestamp not a date-time", "GET", "/v1/orgs/o1/members", 200, strings.Replace(member(`"read"`), "2026-01-01T00:00:00.000Z", "yesterday", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.body != "" {
				h.Set("Content-Type", "application/json")
			}
			err := spec.ValidateResponse(tt.method, tt.path, "", tt.status, h, []byte(tt.body))
			if tt.ok && err != nil {
				t.Errorf("valid response refused: %v", err)
			} else if !tt.ok && err == nil {
				t.Errorf("invalid response accepted")
			}
		})
	}
}

func TestOperationNames(t *testing.T) {
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/v1/spaces/abc/integrations":                          "listSpaceIntegrations",
		"/v1/spaces/abc/integration-blocks":                    "listSpaceIntegrationsBlocks",
		"/v1/orgs/o/integrations/installations-status":         "listOrganizationIntegrationsStatus",
		"/v1/orgs/o/integrations/slack/installation_status":    "getOrganizationIntegrationStatus",
		"/v1/integrations/a.b-c/installations/i1/spaces/s1":    "getIntegrationSpaceInstallation",
		"/v1/integrations/a.b-c/installations/i1/spaces/s1/xx": "",
	} {
		if got := spec.Operation("GET", path); got != want {
			t.Errorf("GET %s: operation %q, want %q", path, got, want)
		}
	}
	if !strings.HasSuffix(mustPath(t), "openapi.json") {
		t.Error("unexpected cache path")
	}
}

func mustPath(t *testing.T) string {
	p, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
