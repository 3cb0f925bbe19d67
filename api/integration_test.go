package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"strings"
	"testing"

	"integrations"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

// regWorld is the fixture of the registration tests: world (see
// spaceintegrations_test.go) with erin, an admin of both organizations, a
// hostname for acme that differs from its id, and three more integrations of
// acme: org-only (target organization), importer (private, with a content
// source) and configured (with required configuration properties).
const regWorld = `
users:
  - {id: alice, displayName: Alice, email: alice@example.com, tokens: [alice-token]}
  - {id: bob, displayName: Bob, email: bob@example.com, tokens: [bob-token]}
  - {id: carol, displayName: Carol, email: carol@example.com, tokens: [carol-token]}
  - {id: dave, displayName: Dave, email: dave@example.com, tokens: [dave-token]}
  - {id: erin, displayName: Erin, email: erin@example.com, tokens: [erin-token]}
organizations:
  - {id: acme, title: Acme, hostname: acme-docs, members: [{user: alice, role: admin}, {user: bob, role: read}, {user: erin, role: admin}]}
  - {id: globex, title: Globex, members: [{user: dave, role: admin}, {user: erin, role: admin}]}
spaces:
  - {id: handbook, organization: acme, title: Handbook}
  - {id: blog, organization: acme, title: Blog}
  - {id: secret, organization: globex, title: Secret}
integrations:
  - {name: slack, organization: acme, title: Slack, visibility: public, scopes: [space:content:read],
     blocks: [{id: message, title: Message}]}
  - {name: mermaid, organization: globex, title: Mermaid Diagrams, visibility: public, target: space, scopes: [space:content:read],
     blocks: [{id: diagram, title: Diagram, urlUnfurl: ["https://mermaid.live/edit"]}]}
  - {name: github, organization: globex, title: GitHub Sync, visibility: unlisted, scopes: [space:content:write]}
  - {name: paused-app, organization: acme, title: Paused App, visibility: public, blocks: [{id: p, title: Paused block}]}
  - {name: quiet-space, organization: acme, title: Quiet, visibility: public}
  - {name: private-tool, organization: globex, title: Private Tool, visibility: private, blocks: [{id: t, title: Tool}]}
  - {name: org-only, organization: acme, title: Org Only, visibility: public, target: organization, categories: [analytics]}
  - {name: importer, organization: acme, title: Importer, visibility: private, categories: [content], scopes: [space:content:write],
     contentSources: [{id: src, title: Source, configuration: {componentId: source-config}}]}
  - {name: configured, organization: acme, title: Configured, visibility: public,
     configurations: {
       account: {properties: {apiKey: {type: string}, region: {type: string, enum: [eu, us]}, retries: {type: number}, verbose: {type: boolean}}, required: [apiKey]},
       space: {properties: {channel: {type: string}}, required: [channel]}}}
installations:
  - {id: slack-acme, integration: slack, organization: acme, space_selection: selected, spaces: [{space: handbook}]}
  - {id: mermaid-acme, integration: mermaid, organization: acme, space_selection: all, spaces: [{space: blog, status: paused}]}
  - {id: github-acme, integration: github, organization: acme, space_selection: selected, spaces: [{space: blog}]}
  - {id: paused-acme, integration: paused-app, organization: acme, status: paused, space_selection: all}
  - {id: quiet-acme, integration: quiet-space, organization: acme, space_selection: selected, spaces: [{space: blog, status: paused}]}
  - {id: private-acme, integration: private-tool, organization: acme, space_selection: selected, spaces: [{space: handbook}]}
  - {id: slack-globex, integration: slack, organization: globex, space_selection: all}
`

// regEnv starts a server on a new store seeded with regWorld.
func regEnv(t *testing.T, open func(testing.TB) integrations.Store) *apitest.Env {
	t.Helper()
	e := apitest.New(t, open(t))
	e.Seed(regWorld)
	return e
}

// regPNG encodes a one-pixel PNG of a gray level: different levels give
// different files.
func regPNG(t testing.TB, gray uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	img.SetGray(0, 0, color.Gray{Y: gray})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// regPublication is a minimal valid PublishIntegration body.
func regPublication(org, title string) map[string]any {
	return map[string]any{"organization": org, "title": title, "description": "A test integration.",
		"script": "export default {};", "scopes": []string{"space:content:read"}, "visibility": "public"}
}

// regIntegrationToken mints a token of an integration as the caller.
func regIntegrationToken(t testing.TB, e *apitest.Env, name, caller string) string {
	t.Helper()
	var out struct{ Token string }
	e.Expect(201, "POST", "/ext/integrations/"+name+"/tokens", caller, nil).JSON(t, &out)
	if out.Token == "" {
		t.Fatalf("no token for %s", name)
	}
	return out.Token
}

// regInstallationToken mints an installation token with an integration token.
func regInstallationToken(t testing.TB, e *apitest.Env, name, installation, integrationToken string) string {
	t.Helper()
	var out struct{ Token string }
	e.Expect(200, "POST", "/v1/integrations/"+name+"/installations/"+installation+"/tokens", integrationToken, nil).JSON(t, &out)
	if out.Token == "" {
		t.Fatalf("no token for installation %s", installation)
	}
	return out.Token
}

// regIntegration is the part of the spec's Integration the tests read.
type regIntegration struct {
	Name          string
	Version       float64
	Title         string
	Visibility    string
	Target        string
	PreviewImages []string
	Owner         struct{ ID string }
	URLs          struct{ Location, Icon, Assets string }
	Permissions   struct{ Admin bool }
}

// regExpect is e.Expect for subtests: it fails t, not the test that
// started the server.
func regExpect(t *testing.T, e *apitest.Env, status int, method, path, token string, body any) *apitest.Response {
	t.Helper()
	res := e.Do(method, path, token, body)
	if res.Status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.Status, status, res.Body)
	}
	return res
}

// regSameError fails unless two error answers are alike once each names its
// own object: hidden and missing objects must not be told apart.
func regSameError(t *testing.T, hidden, missing *apitest.Response, hiddenID, missingID string) {
	t.Helper()
	if hidden.Status != missing.Status {
		t.Errorf("hidden answers %d, missing %d", hidden.Status, missing.Status)
	}
	a := strings.ReplaceAll(string(hidden.Body), hiddenID, "X")
	b := strings.ReplaceAll(string(missing.Body), missingID, "X")
	if a != b {
		t.Errorf("hidden and missing differ:\n%s\n%s", hidden.Body, missing.Body)
	}
}

func TestPublishIntegration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		intToken := regIntegrationToken(t, e, "slack", "alice-token")

		// The organization by its hostname; a new integration starts at version 1.
		var got regIntegration
		e.Expect(200, "POST", "/v1/integrations/notes", "alice-token", regPublication("acme-docs", "Notes")).JSON(t, &got)
		if got.Name != "notes" || got.Version != 1 || got.Title != "Notes" || got.Owner.ID != "acme" || !got.Permissions.Admin {
			t.Errorf("first publish: %+v", got)
		}
		if got.URLs.Location != e.URL+"/v1/integrations/notes" {
			t.Errorf("location %q", got.URLs.Location)
		}
		e.Expect(200, "GET", "/v1/integrations/notes", "carol-token", nil).JSON(t, &got)
		if got.Version != 1 || got.Title != "Notes" {
			t.Errorf("read back: %+v", got)
		}

		// Again, by id: it updates and bumps the version.
		body := regPublication("acme", "Better Notes")
		body["visibility"] = "unlisted"
		e.Expect(200, "POST", "/v1/integrations/notes", "erin-token", body).JSON(t, &got)
		if got.Version != 2 || got.Title != "Better Notes" || got.Visibility != "unlisted" {
			t.Errorf("second publish: %+v", got)
		}
		// The staff user administers every organization.
		e.Expect(200, "POST", "/v1/integrations/notes", apitest.AdminToken, regPublication("acme", "Notes")).JSON(t, &got)
		if got.Version != 3 {
			t.Errorf("third publish: version %v", got.Version)
		}
		e.Expect(200, "GET", "/v1/integrations/notes", "bob-token", nil).JSON(t, &got)
		if got.Version != 3 || got.Visibility != "public" || got.Permissions.Admin {
			t.Errorf("read back after three publishes: %+v", got)
		}
		// A fixture integration continues from its version.
		e.Expect(200, "POST", "/v1/integrations/slack", "alice-token", regPublication("acme", "Slack")).JSON(t, &got)
		if got.Version != 2 {
			t.Errorf("slack republished: version %v", got.Version)
		}

		tests := []struct {
			name, path, token string
			body              any
			status            int
			message           string
		}{
			{"name of another organization", "/v1/integrations/notes", "dave-token", regPublication("globex", "Notes"), 409, "notes"},
			{"admin of both moves it", "/v1/integrations/notes", "erin-token", regPublication("globex", "Notes"), 409, "notes"},
			{"private name of another organization", "/v1/integrations/importer", "dave-token", regPublication("globex", "Importer"), 409, "importer"},
			{"read member", "/v1/integrations/notes", "bob-token", regPublication("acme", "Notes"), 403, "admin"},
			{"not a member", "/v1/integrations/fresh", "carol-token", regPublication("acme", "Fresh"), 404, "not found"},
			{"not a member, by hostname", "/v1/integrations/fresh", "carol-token", regPublication("acme-docs", "Fresh"), 404, "not found"},
			{"unknown organization", "/v1/integrations/fresh", "alice-token", regPublication("nowhere", "Fresh"), 404, "not found"},
			{"integration token", "/v1/integrations/fresh", intToken, regPublication("acme", "Fresh"), 403, "publishIntegration"},
			{"no token", "/v1/integrations/fresh", "", regPublication("acme", "Fresh"), 401, "Authorization"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "POST", tt.path, tt.token, tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.message) {
					t.Errorf("message %q does not mention %q", msg, tt.message)
				}
			})
		}
		// Refusals change nothing.
		e.Expect(200, "GET", "/v1/integrations/notes", "alice-token", nil).JSON(t, &got)
		if got.Version != 3 || got.Owner.ID != "acme" {
			t.Errorf("after refusals: %+v", got)
		}
		e.Expect(404, "GET", "/v1/integrations/fresh", apitest.AdminToken, nil)
	})
}

func TestPublishIntegrationAssets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		icon, p1, p2 := regPNG(t, 10), regPNG(t, 20), regPNG(t, 30)
		b64 := base64.StdEncoding.EncodeToString
		body := regPublication("acme", "Pictures")
		body["icon"] = b64(icon)
		body["previewImages"] = []string{b64(p1), b64(p2)}
		var got regIntegration
		e.Expect(200, "POST", "/v1/integrations/pictures", "alice-token", body).JSON(t, &got)

		prefix := e.URL + "/assets/integrations/pictures/"
		if got.URLs.Assets != prefix {
			t.Errorf("urls.assets %q, want %q", got.URLs.Assets, prefix)
		}
		if len(got.PreviewImages) != 2 {
			t.Fatalf("previewImages %v", got.PreviewImages)
		}
		fetch := func(u string, want []byte) {
			t.Helper()
			if !strings.HasPrefix(u, prefix) || len(u) == len(prefix) {
				t.Fatalf("asset URL %q is not under %s", u, prefix)
			}
			// Assets are public: no token.
			res := e.Expect(200, "GET", strings.TrimPrefix(u, e.URL), "", nil)
			if ct := res.Header.Get("Content-Type"); ct != "image/png" {
				t.Errorf("%s: Content-Type %q", u, ct)
			}
			if !bytes.Equal(res.Body, want) {
				t.Errorf("%s: served bytes differ from the published ones", u)
			}
		}
		fetch(got.URLs.Icon, icon)
		fetch(got.PreviewImages[0], p1)
		fetch(got.PreviewImages[1], p2)
		// GET answers the same URLs.
		var read regIntegration
		e.Expect(200, "GET", "/v1/integrations/pictures", "carol-token", nil).JSON(t, &read)
		if read.URLs.Icon != got.URLs.Icon || fmt.Sprint(read.PreviewImages) != fmt.Sprint(got.PreviewImages) {
			t.Errorf("GET gives %+v, publish gave %+v", read, got)
		}

		// A data URL works as well; files no longer published are gone.
		newIcon := regPNG(t, 40)
		body["icon"] = "data:image/png;base64," + b64(newIcon)
		body["previewImages"] = []string{b64(p2)}
		var next regIntegration
		e.Expect(200, "POST", "/v1/integrations/pictures", "alice-token", body).JSON(t, &next)
		fetch(next.URLs.Icon, newIcon)
		if len(next.PreviewImages) != 1 {
			t.Fatalf("previewImages %v", next.PreviewImages)
		}
		fetch(next.PreviewImages[0], p2)
		e.Expect(404, "GET", strings.TrimPrefix(got.URLs.Icon, e.URL), "", nil)
		e.Expect(404, "GET", strings.TrimPrefix(got.PreviewImages[0], e.URL), "", nil)

		// Without an icon there is no icon URL.
		delete(body, "icon")
		var bare regIntegration
		e.Expect(200, "POST", "/v1/integrations/pictures", "alice-token", body).JSON(t, &bare)
		if bare.URLs.Icon != "" {
			t.Errorf("icon URL %q without an icon", bare.URLs.Icon)
		}
		e.Expect(404, "GET", strings.TrimPrefix(next.URLs.Icon, e.URL), "", nil)
		// An asset of another integration is not found under this name.
		e.Expect(404, "GET", "/assets/integrations/slack/"+strings.TrimPrefix(next.PreviewImages[0], prefix), "", nil)
		// Unpublishing removes them.
		e.Expect(205, "DELETE", "/v1/integrations/pictures", "alice-token", nil)
		e.Expect(404, "GET", strings.TrimPrefix(next.PreviewImages[0], e.URL), "", nil)
	})
}

func TestPublishIntegrationLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		b64 := base64.StdEncoding.EncodeToString
		img := b64(regPNG(t, 1))
		with := func(key string, value any) map[string]any {
			b := regPublication("acme", "Limits")
			b[key] = value
			return b
		}
		without := func(key string) map[string]any {
			b := regPublication("acme", "Limits")
			delete(b, key)
			return b
		}
		block := func(b map[string]any) map[string]any { return with("blocks", []any{b}) }
		property := func(p map[string]any) map[string]any {
			return map[string]any{"account": map[string]any{"properties": map[string]any{"key": p}}}
		}
		links := make([]map[string]string, 6)
		for n := range links {
			links[n] = map[string]string{"url": "https://example.com/" + fmt.Sprint(n), "label": "Link"}
		}
		secrets := map[string]string{}
		for n := 0; n < 21; n++ {
			secrets[fmt.Sprintf("S%d", n)] = "v"
		}
		tests := []struct {
			name    string
			intName string // the path's integration name; "limits" when empty
			body    any
			status  int
			field   string // what a 400 must name
			schema  bool   // refused for a reason the spec's schema states
		}{
			{"minimal", "", regPublication("acme", "Limits"), 200, "", false},
			{"title of 2", "", with("title", "ab"), 200, "", false},
			{"title of 30", "", with("title", strings.Repeat("a", 30)), 200, "", false},
			{"title of 30 non-ASCII characters", "", with("title", strings.Repeat("é", 30)), 200, "", false},
			{"title of 1", "", with("title", "a"), 400, "title", true},
			{"title of 31", "", with("title", strings.Repeat("a", 31)), 400, "title", true},
			{"title of 31 non-ASCII characters", "", with("title", strings.Repeat("é", 31)), 400, "title", true},
			{"title not a string", "", with("title", 12), 400, "title", true},
			{"description of 100", "", with("description", strings.Repeat("d", 100)), 200, "", false},
			{"empty description", "", with("description", ""), 200, "", false},
			{"description of 101", "", with("description", strings.Repeat("d", 101)), 400, "description", true},
			{"summary of 2048", "", with("summary", strings.Repeat("s", 2048)), 200, "", false},
			{"summary of 2049", "", with("summary", strings.Repeat("s", 2049)), 400, "summary", true},
			{"3 preview images", "", with("previewImages", []string{img, img, img}), 200, "", false},
			{"4 preview images", "", with("previewImages", []string{img, img, img, img}), 400, "previewImages", true},
			{"icon", "", with("icon", img), 200, "", false},
			{"icon not base64", "", with("icon", "!!not base64!!"), 400, "icon", false},
			{"icon not an image", "", with("icon", b64([]byte("hello, world"))), 400, "icon", false},
			{"preview not an image", "", with("previewImages", []string{img, b64([]byte("hello"))}), 400, "previewImages[1]", false},
			{"every visibility", "", with("visibility", "private"), 200, "", false},
			{"unknown visibility", "", with("visibility", "secret"), 400, "visibility", true},
			{"empty visibility", "", with("visibility", ""), 400, "visibility", true},
			{"target space", "", with("target", "space"), 200, "", false},
			{"unknown target", "", with("target", "everything"), 400, "target", true},
			{"empty target", "", with("target", ""), 400, "target", true},
			{"runtime v2", "", with("runtime", "v2"), 200, "", false},
			{"unknown runtime", "", with("runtime", "v3"), 400, "runtime", true},
			{"every scope", "", with("scopes", integrations.IntegrationScopes), 200, "", false},
			{"no scopes", "", with("scopes", []string{}), 200, "", false},
			{"unknown scope", "", with("scopes", []string{"space:content:read", "space:everything"}), 400, "scopes", true},
			{"every category", "", with("categories", integrations.IntegrationCategories), 200, "", false},
			{"unknown category", "", with("categories", []string{"games"}), 400, "categories", true},
			{"block", "", block(map[string]any{"id": "b", "title": strings.Repeat("t", 40)}), 200, "", false},
			{"block title of 1", "", block(map[string]any{"id": "b", "title": "t"}), 400, "blocks[0].title", true},
			{"block title of 41", "", block(map[string]any{"id": "b", "title": strings.Repeat("t", 41)}), 400, "blocks[0].title", true},
			{"block without id", "", block(map[string]any{"title": "Block"}), 400, "blocks[0].id", true},
			{"block without title", "", block(map[string]any{"id": "b"}), 400, "blocks[0].title", true},
			{"configuration property", "", with("configurations", property(map[string]any{"type": "string", "title": strings.Repeat("t", 50),
				"description": strings.Repeat("é", 100), "default": "d", "enum": []string{"d", "e"}, "completion_url": "https://example.com/c"})), 200, "", false},
			{"configuration property description of 101", "", with("configurations", property(map[string]any{"type": "string", "description": strings.Repeat("é", 101)})),
				400, "configurations.account.properties.key.description", true},
			{"space configuration property description of 101", "", with("configurations", map[string]any{"space": map[string]any{
				"properties": map[string]any{"key": map[string]any{"type": "number", "description": strings.Repeat("d", 101)}}}}),
				400, "configurations.space.properties.key.description", true},
			{"configuration property title of 1", "", with("configurations", property(map[string]any{"type": "string", "title": "t"})),
				400, "configurations.account.properties.key.title", true},
			{"configuration property title of 51", "", with("configurations", property(map[string]any{"type": "string", "title": strings.Repeat("t", 51)})),
				400, "configurations.account.properties.key.title", true},
			{"configuration property of an unknown type", "", with("configurations", property(map[string]any{"type": "date"})),
				400, "configurations.account.properties.key.type", true},
			{"configuration property without a type", "", with("configurations", property(map[string]any{"title": "Key"})),
				400, "configurations.account.properties.key.type", true},
			{"configuration property default of another type", "", with("configurations", property(map[string]any{"type": "boolean", "default": "yes"})),
				400, "configurations.account.properties.key.default", true},
			{"button without its text", "", with("configurations", property(map[string]any{"type": "button", "callback_url": "https://example.com/b"})),
				400, "configurations.account.properties.key", true},
			{"configuration required twice", "", with("configurations", map[string]any{"account": map[string]any{
				"properties": map[string]any{"key": map[string]any{"type": "string"}}, "required": []string{"key", "key"}}}),
				400, "configurations.account.required[1]", true},
			{"configuration without properties", "", with("configurations", map[string]any{"account": map[string]any{"required": []string{}}}),
				400, "configurations.account", true},
			{"configuration component", "", with("configurations", map[string]any{"site": map[string]any{"componentId": "config"}}), 200, "", false},
			{"configuration with properties and a component", "", with("configurations", map[string]any{"site": map[string]any{
				"componentId": "config", "properties": map[string]any{}}}), 400, "configurations.site", true},
			{"block description of 151", "", block(map[string]any{"id": "b", "title": "Block", "description": strings.Repeat("d", 151)}), 400, "blocks[0].description", true},
			{"content source description of 151", "", with("contentSources", []any{map[string]any{"id": "c", "title": "Source", "description": strings.Repeat("d", 151),
				"configuration": map[string]string{"componentId": "c"}}}), 400, "contentSources[0].description", true},
			{"content source without a component", "", with("contentSources", []any{map[string]any{"id": "c", "title": "Source", "configuration": map[string]string{}}}),
				400, "contentSources[0].configuration", true},
			{"external link not a URL", "", with("externalLinks", []map[string]string{{"url": "not a url", "label": "Link"}}), 400, "externalLinks[0].url", false},
			{"content security policy directive not a string", "", with("contentSecurityPolicy", map[string]any{"script-src": 1}), 400, "contentSecurityPolicy.script-src", true},
			{"6 external links", "", with("externalLinks", links), 400, "externalLinks", true},
			{"5 external links", "", with("externalLinks", links[:5]), 200, "", false},
			{"21 secrets", "", with("secrets", secrets), 400, "secrets", true},
			{"no organization", "", without("organization"), 400, "organization", true},
			{"no title", "", without("title"), 400, "title", true},
			{"no description", "", without("description"), 400, "description", true},
			{"no script", "", without("script"), 400, "script", true},
			{"no scopes", "", without("scopes"), 400, "scopes", true},
			{"scopes not an array", "", with("scopes", "space:content:read"), 400, "scopes", true},
			{"not JSON", "", "{title: 1}", 400, "JSON", true},
			{"no body", "", nil, 400, "body", true},
			{"body an array", "", "[]", 400, "object", true},
			{"name of 100", strings.Repeat("n", 100), regPublication("acme", "Long"), 200, "", false},
			{"name with dots", "my.integration_v-2", regPublication("acme", "Dotted"), 200, "", false},
			{"name of 101", strings.Repeat("n", 101), regPublication("acme", "Long"), 400, "integrationName", false},
			{"name with a space", "bad%20name", regPublication("acme", "Spaced"), 400, "integrationName", false},
			{"name with a colon", "bad:name", regPublication("acme", "Colon"), 400, "integrationName", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				name := tt.intName
				if name == "" {
					name = "limits"
				}
				res := regExpect(t, e, tt.status, "POST", "/v1/integrations/"+name, "alice-token", tt.body)
				if tt.status == 400 {
					if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.field) {
						t.Errorf("message %q does not name %q", msg, tt.field)
					}
				}
				if tt.intName != "" {
					return // the path is at fault, not the body
				}
				var raw []byte
				switch b := tt.body.(type) {
				case nil:
				case string:
					raw = []byte(b)
				default:
					raw, _ = json.Marshal(b)
				}
				specErr := e.Spec.ValidateRequestBody("POST", "/v1/integrations/x", raw)
				switch {
				case tt.status == 200 && specErr != nil:
					t.Errorf("the server accepts a body the spec refuses: %v", specErr)
				case tt.status == 400 && tt.schema && specErr == nil:
					t.Errorf("the server refuses, for a schema reason, a body the spec accepts")
				}
			})
		}
		// The refused publications left nothing behind.
		for _, name := range []string{strings.Repeat("n", 101), "bad%20name"} {
			e.Expect(400, "GET", "/v1/integrations/"+name, "alice-token", nil)
		}
		var got regIntegration
		e.Expect(200, "GET", "/v1/integrations/limits", "alice-token", nil).JSON(t, &got)
		if got.Title != "Limits" {
			t.Errorf("last accepted publication has title %q", got.Title)
		}
	})
}

func TestIntegrationVisibility(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		privateToken := regIntegrationToken(t, e, "private-tool", "dave-token")
		installToken := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		tests := []struct {
			name, integration, token string
			status                   int
		}{
			{"public, no member", "slack", "carol-token", 200},
			{"public, other integration's token", "slack", privateToken, 200},
			{"unlisted by name, no member", "github", "carol-token", 200},
			{"unlisted, installation token of another integration", "github", installToken, 200},
			{"private, owner's admin", "private-tool", "dave-token", 200},
			{"private, staff", "private-tool", apitest.AdminToken, 200},
			{"private, its own token", "private-tool", privateToken, 200},
			{"private, owner's read member", "importer", "bob-token", 200},
			{"private, installed on the caller's organization", "private-tool", "alice-token", 404},
			{"private, no member", "private-tool", "carol-token", 404},
			{"private, another integration's token", "private-tool", slackToken, 404},
			{"private, another integration's installation token", "importer", installToken, 404},
			{"missing", "nothere", "dave-token", 404},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "GET", "/v1/integrations/"+tt.integration, tt.token, nil)
				if tt.status == 200 {
					var got regIntegration
					res.JSON(t, &got)
					if got.Name != tt.integration {
						t.Errorf("got %q", got.Name)
					}
				}
			})
		}
		regSameError(t, e.Do("GET", "/v1/integrations/private-tool", "carol-token", nil),
			e.Do("GET", "/v1/integrations/private-tol", "carol-token", nil), "private-tool", "private-tol")
		e.Expect(401, "GET", "/v1/integrations/slack", "", nil)

		// Lists hold the public integrations and those the caller's
		// organizations own, whatever their visibility.
		lists := []struct {
			name, token string
			want        []string
		}{
			{"no member", "carol-token", []string{"configured", "mermaid", "org-only", "paused-app", "quiet-space", "slack"}},
			{"acme member", "bob-token", []string{"configured", "importer", "mermaid", "org-only", "paused-app", "quiet-space", "slack"}},
			{"globex admin", "dave-token", []string{"configured", "github", "mermaid", "org-only", "paused-app", "private-tool", "quiet-space", "slack"}},
			{"staff", apitest.AdminToken, []string{"configured", "github", "importer", "mermaid", "org-only", "paused-app", "private-tool", "quiet-space", "slack"}},
			{"integration token", privateToken, []string{"configured", "mermaid", "org-only", "paused-app", "private-tool", "quiet-space", "slack"}},
			{"installation token", installToken, []string{"configured", "mermaid", "org-only", "paused-app", "quiet-space", "slack"}},
		}
		for _, tt := range lists {
			t.Run("list/"+tt.name, func(t *testing.T) {
				res := regExpect(t, e, 200, "GET", "/v1/integrations", tt.token, nil)
				if got := names(t, res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if count := res.Map(t)["count"]; count != float64(len(tt.want)) {
					t.Errorf("count %v, want %d", count, len(tt.want))
				}
			})
		}
		e.Expect(401, "GET", "/v1/integrations", "", nil)
	})
}

func TestListIntegrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		tests := []struct {
			name, query, token string
			want               []string
		}{
			{"search on name", "search=MER", "carol-token", []string{"mermaid"}},
			{"search on title", "search=diagrams", "carol-token", []string{"mermaid"}},
			{"search with LIKE characters", "search=%25", "carol-token", []string{}},
			{"search finds no hidden integration", "search=tool", "carol-token", []string{}},
			{"category", "category=analytics", "carol-token", []string{"org-only"}},
			{"category of a private integration", "category=content", "alice-token", []string{"importer"}},
			{"category hides what the caller may not list", "category=content", "carol-token", []string{}},
			{"with blocks", "blocks=true", "carol-token", []string{"mermaid", "paused-app", "slack"}},
			{"without blocks", "blocks=false", "carol-token", []string{"configured", "org-only", "quiet-space"}},
			{"with content sources", "contentSources=true", "alice-token", []string{"importer"}},
			{"without content sources", "contentSources=false", "alice-token", []string{"configured", "mermaid", "org-only", "paused-app", "quiet-space", "slack"}},
			{"owner", "owner=globex", "carol-token", []string{"mermaid"}},
			{"owner, member", "owner=globex", "dave-token", []string{"github", "mermaid", "private-tool"}},
			{"owner unknown", "owner=nowhere", "dave-token", []string{}},
			{"scope", "scope=space:content:read", "carol-token", []string{"mermaid", "slack"}},
			{"scope of hidden ones", "scope=space:content:write", "dave-token", []string{"github"}},
			{"target space", "target=space", "carol-token", []string{"mermaid"}},
			{"target organization", "target=organization", "carol-token", []string{"org-only"}},
			{"target all", "target=all", "carol-token", []string{"configured", "paused-app", "quiet-space", "slack"}},
			{"block domain", "blockDomain=mermaid.live", "carol-token", []string{"mermaid"}},
			{"block domain in capitals", "blockDomain=MERMAID.LIVE", "carol-token", []string{"mermaid"}},
			{"block domain unknown", "blockDomain=example.com", "carol-token", []string{}},
			{"filters combine", "blocks=true&owner=acme&search=a", "carol-token", []string{"paused-app", "slack"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, 200, "GET", "/v1/integrations?"+tt.query, tt.token, nil)
				if got := names(t, res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if count := res.Map(t)["count"]; count != float64(len(tt.want)) {
					t.Errorf("count %v, want %d", count, len(tt.want))
				}
			})
		}

		bad := []struct{ name, query, field string }{
			{"unknown category", "category=games", "category"},
			{"blocks not a boolean", "blocks=yes", "blocks"},
			{"contentSources not a boolean", "contentSources=1", "contentSources"},
			{"unknown scope", "scope=space:all", "scope"},
			{"unknown target", "target=moon", "target"},
			{"invalid owner", "owner=a.b", "owner"},
			{"invalid block domain", "blockDomain=a%20b", "blockDomain"},
			{"limit too large", "limit=1001", "limit"},
			{"limit not a number", "limit=many", "limit"},
			{"search too long", "search=" + strings.Repeat("s", 257), "search"},
			{"garbage page", "page=garbage", "page"},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, 400, "GET", "/v1/integrations?"+tt.query, "carol-token", nil)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %q", msg, tt.field)
				}
			})
		}

		// Paging walks every page once, with the count on each.
		var got []string
		path := "/v1/integrations?limit=4"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			res := e.Expect(200, "GET", path, "carol-token", nil)
			got = append(got, names(t, res)...)
			m := res.Map(t)
			if m["count"] != float64(6) {
				t.Errorf("count %v on page %d", m["count"], pages)
			}
			next, ok := m["next"].(map[string]any)
			if !ok {
				break
			}
			path = "/v1/integrations?limit=4&page=" + url.QueryEscape(next["page"].(string))
		}
		if fmt.Sprint(got) != "[configured mermaid org-only paused-app quiet-space slack]" {
			t.Errorf("pages gave %v", got)
		}
		m := e.Expect(200, "GET", "/v1/integrations?limit=0", "carol-token", nil).Map(t)
		if m["count"] != float64(6) || len(m["items"].([]any)) != 0 || m["next"] != nil {
			t.Errorf("limit=0: %v", m)
		}
		// A page token is bound to its caller and its filters.
		next := e.Expect(200, "GET", "/v1/integrations?limit=1", "carol-token", nil).Map(t)["next"].(map[string]any)["page"].(string)
		e.Expect(400, "GET", "/v1/integrations?limit=1&page="+url.QueryEscape(next), "alice-token", nil)
		e.Expect(400, "GET", "/v1/integrations?limit=1&blocks=true&page="+url.QueryEscape(next), "carol-token", nil)
		e.Expect(200, "GET", "/v1/integrations?limit=1&page="+url.QueryEscape(next), "carol-token", nil)
	})
}

func TestUnpublishIntegration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		installToken := regInstallationToken(t, e, "slack", "slack-acme", slackToken)

		// Refusals first: nothing changes.
		e.Expect(403, "DELETE", "/v1/integrations/slack", "bob-token", nil)
		e.Expect(403, "DELETE", "/v1/integrations/slack", "carol-token", nil)
		e.Expect(403, "DELETE", "/v1/integrations/slack", "dave-token", nil)
		e.Expect(403, "DELETE", "/v1/integrations/slack", slackToken, nil)
		e.Expect(403, "DELETE", "/v1/integrations/slack", installToken, nil)
		e.Expect(401, "DELETE", "/v1/integrations/slack", "", nil)
		e.Expect(400, "DELETE", "/v1/integrations/bad:name", "alice-token", nil)
		// An integration the caller may not see is as good as missing.
		e.Expect(204, "DELETE", "/v1/integrations/private-tool", "alice-token", nil)
		e.Expect(200, "GET", "/v1/integrations/private-tool", "dave-token", nil)
		e.Expect(204, "DELETE", "/v1/integrations/nothere", "alice-token", nil)
		if got := names(t, e.Expect(200, "GET", "/v1/spaces/handbook/integrations", "alice-token", nil)); fmt.Sprint(got) != "[mermaid private-tool slack]" {
			t.Fatalf("handbook before: %v", got)
		}

		e.Expect(205, "DELETE", "/v1/integrations/slack", "alice-token", nil)
		e.Expect(204, "DELETE", "/v1/integrations/slack", "alice-token", nil)
		e.Expect(404, "GET", "/v1/integrations/slack", "alice-token", nil)
		// Its installations, space installations and tokens went with it.
		e.Expect(404, "GET", "/v1/integrations/slack/installations/slack-acme", "alice-token", nil)
		e.Expect(404, "GET", "/v1/integrations/slack/installations/slack-globex", "dave-token", nil)
		e.Expect(404, "GET", "/v1/integrations/slack/installations/slack-acme/spaces/handbook", "alice-token", nil)
		e.Expect(401, "GET", "/v1/integrations/slack/installations", slackToken, nil)
		e.Expect(401, "GET", "/v1/integrations/slack/installations/slack-acme", installToken, nil)
		if got := names(t, e.Expect(200, "GET", "/v1/spaces/handbook/integrations", "alice-token", nil)); fmt.Sprint(got) != "[mermaid private-tool]" {
			t.Errorf("handbook after: %v", got)
		}
		if got := names(t, e.Expect(200, "GET", "/v1/spaces/secret/integrations", "dave-token", nil)); len(got) != 0 {
			t.Errorf("secret after: %v", got)
		}
		var blocks []struct{ Name string }
		e.Expect(200, "GET", "/v1/spaces/handbook/integration-blocks", "alice-token", nil).JSON(t, &blocks)
		for _, b := range blocks {
			if b.Name == "slack" {
				t.Errorf("slack's blocks remain: %v", blocks)
			}
		}
		m := e.Expect(200, "GET", "/v1/orgs/acme/installations?search=slack", "alice-token", nil).Map(t)
		if m["count"] != float64(0) {
			t.Errorf("acme still lists slack's installation: %v", m)
		}

		// The name is free again, for any organization; it starts over.
		var got regIntegration
		e.Expect(200, "POST", "/v1/integrations/slack", "dave-token", regPublication("globex", "Slack")).JSON(t, &got)
		if got.Version != 1 || got.Owner.ID != "globex" {
			t.Errorf("republished: %+v", got)
		}
		// The other organization's admin unpublishes its own.
		e.Expect(205, "DELETE", "/v1/integrations/mermaid", "dave-token", nil)
		if got := names(t, e.Expect(200, "GET", "/v1/spaces/handbook/integrations", "alice-token", nil)); fmt.Sprint(got) != "[private-tool]" {
			t.Errorf("handbook after mermaid: %v", got)
		}
		e.Expect(205, "DELETE", "/v1/integrations/importer", apitest.AdminToken, nil)
	})
}
