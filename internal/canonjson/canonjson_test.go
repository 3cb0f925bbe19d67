package canonjson

import (
	"encoding/json"
	"testing"
)

func TestString(t *testing.T) {
	type inner struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	type value struct {
		ID     string          `json:"id"`
		On     bool            `json:"on"`
		Count  int             `json:"count"`
		Inner  *inner          `json:"inner"`
		Config json.RawMessage `json:"config"`
	}
	tests := []struct {
		name string
		a, b any
		same bool
	}{
		{"unset and empty fields", value{}, value{Inner: &inner{Tags: []string{}}, Config: json.RawMessage(`{"a":"","b":[]}`)}, true},
		{"JSON text by value, not layout", value{Config: json.RawMessage(`{"a": 1, "b": [true]}`)}, value{Config: json.RawMessage(`{"b":[true],"a":1}`)}, true},
		{"a set string", value{ID: "x"}, value{}, false},
		{"true against false", value{On: true}, value{}, false},
		{"zero is a number, not absent", value{Count: 0}, map[string]any{}, false},
		{"numbers as written", json.RawMessage(`{"n":12345678901234567890}`), json.RawMessage(`{"n":12345678901234567891}`), false},
		{"an element of an array", value{Inner: &inner{Tags: []string{"a"}}}, value{Inner: &inner{Tags: []string{"b"}}}, false},
		{"unencodable against a value", func() {}, value{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := String(tt.a), String(tt.b)
			if (a == b) != tt.same {
				t.Errorf("String(a) = %s, String(b) = %s; same %v, want %v", a, b, a == b, tt.same)
			}
		})
	}
}
