package service

import (
	"bytes"
	"encoding/json"
	"testing"

	"integrations"
)

// TestPayloadMarshal checks that an event's payload is encoded byte for
// byte as json.Marshal encodes it, on the fast path and off it.
func TestPayloadMarshal(t *testing.T) {
	for _, c := range []struct {
		name string
		p    eventPayload
		fast bool
	}{
		{"setup", eventPayload{EventID: "ev1", Type: integrations.EventSpaceInstallationSetup, InstallationID: "in1", SpaceID: "sp1",
			Status: integrations.StatusActive}, true},
		{"deleted", eventPayload{EventID: "ev2", Type: integrations.EventSpaceInstallationDeleted, InstallationID: "in1", SpaceID: "sp1",
			Previous: &previous{Configuration: json.RawMessage(`{}`)}}, true},
		{"previous status and configuration", eventPayload{EventID: "ev3", Type: integrations.EventInstallationSetup, InstallationID: "in1",
			Status: integrations.StatusPending, Previous: &previous{Status: integrations.StatusActive, Configuration: json.RawMessage(`{"a":[1,true,null]}`)}}, true},
		{"empty previous", eventPayload{EventID: "ev4", Type: "t", Previous: &previous{}}, true},
		{"visibility", eventPayload{EventID: "ev5", Type: integrations.EventSpaceVisibilityUpdated, InstallationID: "in1", SpaceID: "sp1",
			PreviousVisibility: "private", Visibility: "public"}, true},
		{"task", eventPayload{EventID: "ev6", Type: integrations.EventTask, Task: json.RawMessage(`{"type":"sync","n":2}`)}, true},
		{"nothing but the id and type", eventPayload{EventID: "ev7", Type: "t"}, true},
		{"raw value with spaces", eventPayload{EventID: "ev8", Type: "t", Task: json.RawMessage(`{ "a" : "b c" }`)}, false},
		{"raw value with HTML", eventPayload{EventID: "ev9", Type: "t", Previous: &previous{Configuration: json.RawMessage(`{"a":"<b>&"}`)}}, false},
		{"string with a quote", eventPayload{EventID: "ev10", Type: `say "hi"`}, false},
		{"string with non-ASCII", eventPayload{EventID: "ev11", Type: "t", SpaceID: "espace-é"}, false},
		{"string with a control", eventPayload{EventID: "ev12", Type: "t\n"}, false},
	} {
		want, err := json.Marshal(c.p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.p.marshal()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
		if _, fast := c.p.appendPlain(nil); fast != c.fast {
			t.Errorf("%s: on the fast path %v, want %v", c.name, fast, c.fast)
		}
	}
}
