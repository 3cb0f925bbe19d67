package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"integrations/internal/storetest"
)

// TestRuntimeIntegration delivers every event type this server sends to an
// integration built with GitBook's own runtime (npm @gitbook/runtime,
// testdata/runtime-integration), bundled and run in workerd as GitBook's
// platform runs it (runtime-host.mjs, production mode: events are POSTed to
// /v1). Its handlers call the API back with the tokens of the event's
// environment and report to the test what they saw and got.
func TestRuntimeIntegration(t *testing.T) {
	t.Parallel()
	installNodeModules(t)
	storetest.EachDatabase(t, func(t *testing.T, database string) {
		t.Parallel()
		runtimeIntegration(t, database)
	})
}

func runtimeIntegration(t *testing.T, database string) {
	rec := newRecorder(t)
	hosts := runtimeHost(t, "production", "testdata/runtime-integration/src/index.js", "testdata/runtime-integration/src/partial.js")

	s := Start(t, bin, Flags(database, "--admin-token", adminToken))
	alice := s.CreateUser(t, adminToken, "Alice", "alice@example.com")
	org := s.CreateOrg(t, alice.Token, "Acme")
	space := s.CreateSpace(t, alice.Token, org, "Handbook")

	const name = "runtime-e2e"
	publish(t, s, alice.Token, org, name, map[string]string{"RECORDER_URL": rec.URL})
	setEventURL(t, s, alice.Token, name, hosts["testdata/runtime-integration/src/index.js"]+"v1", "runtime")

	// ok fails the test unless every call of a report got status 200 (204
	// for queueTask, whose helper returns nothing).
	ok := func(t *testing.T, r report) {
		t.Helper()
		if r.Mode != "production" {
			t.Errorf("%s ran in mode %q, want production", r.Event.Type, r.Mode)
		}
		if r.Environment.APIEndpoint != s.URL || r.Environment.Integration != name {
			t.Errorf("%s: environment has apiEndpoint %q and integration %q, want %q and %q",
				r.Event.Type, r.Environment.APIEndpoint, r.Environment.Integration, s.URL, name)
		}
		for _, c := range r.Calls {
			if c.Status != http.StatusOK && !(c.Op == "queueTask" && c.Status == http.StatusNoContent) {
				t.Errorf("%s handler: %s answered %d: %s", r.Event.Type, c.Op, c.Status, c.Error)
			}
		}
	}
	var installation string
	isType := func(typ string) func(report) bool {
		return func(r report) bool { return r.Event.Type == typ }
	}

	t.Run("installation_setup, called back with the installation token", func(t *testing.T) {
		installation = install(t, s, alice.Token, name, org)
		r := rec.waitFor(t, "installation_setup", isType("installation_setup"))
		ok(t, r)
		if len(r.Event.Previous) != 0 {
			t.Errorf("installation_setup of a new installation has previous %s", r.Event.Previous)
		}
		if r.Event.InstallationID != installation || r.Environment.Installation != installation || !r.Environment.HasInstallationToken {
			t.Errorf("installation_setup of %s with environment %+v, want installation %s with its token", r.Event.InstallationID, r.Environment, installation)
		}
		var got struct {
			ID string `json:"id"`
		}
		json.Unmarshal(r.call(t, "getIntegrationInstallationById").Data, &got)
		if got.ID != installation {
			t.Errorf("getIntegrationInstallationById gave installation %q, want %q", got.ID, installation)
		}
	})

	t.Run("task queued by the handler with the runtime's queueTask", func(t *testing.T) {
		r := rec.waitFor(t, "the after-setup task", func(r report) bool { return r.Event.Task.Type == "after-setup" })
		ok(t, r)
		if r.Event.Task.InstallationID != installation || r.Environment.HasInstallationToken {
			t.Errorf("task %+v with an installation token %v, want installation %s and the integration token only", r.Event.Task, r.Environment.HasInstallationToken, installation)
		}
		r.call(t, "getIntegrationInstallationById")
	})

	t.Run("task queued through the API, with a delay", func(t *testing.T) {
		token := integrationToken(t, s, alice.Token, name)
		s.Expect(t, http.StatusNoContent, "POST", "/v1/integrations/"+name+"/tasks", token,
			map[string]any{"task": map[string]any{"type": "from-test", "n": 7}, "schedule": 1}, nil)
		r := rec.waitFor(t, "the from-test task", func(r report) bool { return r.Event.Task.Type == "from-test" })
		ok(t, r)
		if r.Event.Task.N != 7 {
			t.Errorf("task payload %+v, want n 7", r.Event.Task)
		}
	})

	t.Run("space_installation_setup", func(t *testing.T) {
		s.Expect(t, http.StatusCreated, "POST", "/v1/integrations/"+name+"/installations/"+installation+"/spaces", alice.Token,
			map[string]string{"space": space}, nil)
		r := rec.waitFor(t, "space_installation_setup", isType("space_installation_setup"))
		ok(t, r)
		if r.Event.SpaceID != space || r.Environment.SpaceInstallation != space {
			t.Errorf("space_installation_setup of space %q with environment %+v, want space %s", r.Event.SpaceID, r.Environment, space)
		}
		var got struct {
			Space string `json:"space"`
		}
		json.Unmarshal(r.call(t, "getIntegrationSpaceInstallation").Data, &got)
		if got.Space != space {
			t.Errorf("getIntegrationSpaceInstallation gave space %q, want %q", got.Space, space)
		}
		r.call(t, "getSpaceById")
	})

	t.Run("space_visibility_updated", func(t *testing.T) {
		s.Expect(t, http.StatusOK, "PATCH", "/v1/spaces/"+space, alice.Token, map[string]string{"visibility": "public"}, nil)
		r := rec.waitFor(t, "space_visibility_updated", isType("space_visibility_updated"))
		ok(t, r)
		if r.Event.SpaceID != space || r.Event.Visibility != "public" || r.Event.PreviousVisibility != "private" {
			t.Errorf("space_visibility_updated %+v, want space %s from private to public", r.Event, space)
		}
		var got struct {
			Visibility string `json:"visibility"`
		}
		json.Unmarshal(r.call(t, "getSpaceById").Data, &got)
		if got.Visibility != "public" {
			t.Errorf("getSpaceById with the installation token gave visibility %q, want public", got.Visibility)
		}
	})

	t.Run("space_installation_deleted", func(t *testing.T) {
		s.Expect(t, http.StatusResetContent, "DELETE", "/v1/integrations/"+name+"/installations/"+installation+"/spaces/"+space, alice.Token, nil, nil)
		r := rec.waitFor(t, "space_installation_deleted", isType("space_installation_deleted"))
		if r.Event.SpaceID != space || r.Event.InstallationID != installation {
			t.Errorf("space_installation_deleted %+v, want space %s of installation %s", r.Event, space, installation)
		}
		if c := r.call(t, "getIntegrationInstallationById"); c.Status != http.StatusOK {
			t.Errorf("getIntegrationInstallationById with the installation token: %d %s", c.Status, c.Error)
		}
		if c := r.call(t, "getIntegrationSpaceInstallation"); c.Status != http.StatusNotFound {
			t.Errorf("getIntegrationSpaceInstallation of the removed space installation: %d, want 404", c.Status)
		}
	})

	t.Run("installation_deleted, called back with the integration token", func(t *testing.T) {
		s.Expect(t, http.StatusResetContent, "DELETE", "/v1/integrations/"+name+"/installations/"+installation, alice.Token, nil, nil)
		r := rec.waitFor(t, "installation_deleted", isType("installation_deleted"))
		ok(t, r)
		if r.Event.InstallationID != installation || r.Environment.HasInstallationToken {
			t.Errorf("installation_deleted of %q, installation token given: %v; want %s without one", r.Event.InstallationID, r.Environment.HasInstallationToken, installation)
		}
		var got struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		json.Unmarshal(r.call(t, "listIntegrationInstallations").Data, &got)
		if len(got.Items) != 0 {
			t.Errorf("listIntegrationInstallations after the uninstall: %+v, want none", got.Items)
		}
	})

	t.Run("every event succeeded at its first attempt", func(t *testing.T) {
		events := listEvents(t, s, alice.Token, name)
		var types []string
		for _, e := range events {
			types = append(types, e.Payload.Type)
			// Reports were sent before the handlers answered; the outcome
			// is recorded once the answer is read.
			var trace eventTrace
			waitUntil(t, func() string { return fmt.Sprintf("event %s not recorded as delivered: %+v", e.ID, trace.Trace.Logs) },
				func() bool {
					trace = getEvent(t, s, alice.Token, name, e.ID)
					return trace.Event.Status == "success"
				})
			if lines, pending := trace.attempts(); len(lines) != 1 || pending || !strings.Contains(lines[0], ": 200 in ") {
				t.Errorf("%s event %s: trace %v, want one attempt answered 200", e.Payload.Type, e.ID, lines)
			}
		}
		slices.Sort(types)
		want := []string{"installation_deleted", "installation_setup", "space_installation_deleted", "space_installation_setup", "space_visibility_updated", "task", "task"}
		if !slices.Equal(types, want) {
			t.Errorf("event types %v, want %v", types, want)
		}
	})

	t.Run("an event the integration does not handle gets 406, final", func(t *testing.T) {
		const partial = "runtime-e2e-partial"
		publish(t, s, alice.Token, org, partial, nil)
		setEventURL(t, s, alice.Token, partial, hosts["testdata/runtime-integration/src/partial.js"]+"v1", "runtime")
		in := install(t, s, alice.Token, partial, org)
		s.Expect(t, http.StatusCreated, "POST", "/v1/integrations/"+partial+"/installations/"+in+"/spaces", alice.Token,
			map[string]string{"space": space}, nil)

		byType := map[string]eventTrace{}
		waitUntil(t, func() string { return "the partial integration's events were not all attempted" }, func() bool {
			for _, e := range listEvents(t, s, alice.Token, partial) {
				byType[e.Payload.Type] = getEvent(t, s, alice.Token, partial, e.ID)
			}
			for _, typ := range []string{"installation_setup", "space_installation_setup"} {
				if lines, _ := byType[typ].attempts(); len(lines) == 0 {
					return false
				}
			}
			return true
		})
		if setup := byType["installation_setup"]; setup.Event.Status != "success" {
			t.Errorf("the handled installation_setup: status %s, trace %+v", setup.Event.Status, setup.Trace.Logs)
		}
		unhandled := byType["space_installation_setup"]
		lines, pending := unhandled.attempts()
		if unhandled.Event.Status != "failed" || pending || len(lines) != 1 || !strings.Contains(lines[0], "(406)") {
			t.Errorf("space_installation_setup, unhandled: status %s, trace %+v; want failed after one attempt answered 406, nothing pending",
				unhandled.Event.Status, unhandled.Trace.Logs)
		}
	})
	s.Stop(t)
}
