package api_test

import (
	"encoding/json"
	"testing"

	"integrations"
	"integrations/internal/storetest"
)

// TestDecodeMessages checks the messages of bodies whose JSON has the wrong
// types: they name the field by its JSON path, never by a Go name.
func TestDecodeMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		publish := func(key string, value any) string {
			b := regPublication("acme", "Messages")
			b[key] = value
			data, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
		installation := "/v1/integrations/slack/installations/slack-acme"
		tests := []struct {
			name, method, path, body, want string
		}{
			{"item of an embedded field", "PATCH", installation, `{"externalIds":[1]}`, "Every item of externalIds must be a string, not a number."},
			{"embedded field", "PATCH", installation, `{"externalIds":1}`, "externalIds must be an array, not a number."},
			{"embedded field, an object", "PATCH", installation, `{"externalIds":{"a":"b"}}`, "externalIds must be an array, not an object."},
			{"field beside an embedded one", "PATCH", installation, `{"space_selection":1}`, "space_selection must be a string, not a number."},
			{"space installation", "PATCH", installation + "/spaces/handbook", `{"externalIds":[true]}`, "Every item of externalIds must be a string, not a boolean."},
			{"body an array", "POST", "/v1/orgs", `[]`, "The request body must be a JSON object, not an array."},
			{"body a string", "POST", "/v1/orgs", `"x"`, "The request body must be a JSON object, not a string."},
			{"body a number", "POST", "/v1/orgs", `42`, "The request body must be a JSON object, not a number."},
			{"body a boolean", "POST", "/v1/orgs", `true`, "The request body must be a JSON object, not a boolean."},
			{"string field", "POST", "/v1/orgs", `{"title":["x"]}`, "title must be a string, not an array."},
			{"field of an item", "POST", "/v1/integrations/messages", publish("blocks", []any{map[string]any{"id": 1, "title": "Block"}}), "blocks[].id must be a string, not a number."},
			{"item of an array", "POST", "/v1/integrations/messages", publish("scopes", []any{1}), "Every item of scopes must be a string, not a number."},
			{"value of an object", "POST", "/v1/integrations/messages", publish("secrets", map[string]any{"a": 1}), "Every value of secrets must be a string, not a number."},
			{"field under an object's key", "POST", "/v1/integrations/messages",
				publish("configurations", map[string]any{"account": map[string]any{"properties": map[string]any{"k": map[string]any{"type": "string", "title": 5}}}}),
				"configurations.account.properties.*.title must be a string, not a number."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, 400, tt.method, tt.path, "alice-token", tt.body)
				if msg := res.ErrorMessage(t); msg != tt.want {
					t.Errorf("message %q, want %q", msg, tt.want)
				}
			})
		}
	})
}
