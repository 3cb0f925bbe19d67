package api

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"

	"integrations"
)

// routeTable lists every operation: GitBook's under /v1 with the security
// schemes of the spec, the server's own outside it.
func (s *Server) routeTable() []Route {
	return []Route{
		// Users and organizations.
		{"GET", "/v1/user", "getAuthenticatedUser", User, s.getUser},
		{"GET", "/v1/users/{userId}", "getUserById", User, s.getUserByID},
		{"GET", "/v1/orgs", "listOrganizationsForAuthenticatedUser", User, s.listOrgs},
		{"POST", "/v1/orgs", "createOrganization", User, s.createOrg},
		{"GET", "/v1/orgs/{organizationId}", "getOrganizationById", Any, s.getOrg},
		{"GET", "/v1/orgs/{organizationId}/members", "listMembersInOrganizationById", User, s.listMembers},

		// Spaces.
		{"GET", "/v1/orgs/{organizationId}/spaces", "listSpacesInOrganizationById", User | Installation, s.listSpaces},
		{"POST", "/v1/orgs/{organizationId}/spaces", "createSpace", User, s.createSpace},
		{"GET", "/v1/spaces/{spaceId}", "getSpaceById", Any, s.getSpace},
		{"PATCH", "/v1/spaces/{spaceId}", "updateSpaceById", User, s.updateSpace},
		{"DELETE", "/v1/spaces/{spaceId}", "deleteSpaceById", User, s.deleteSpace},
		{"GET", "/v1/spaces/{spaceId}/integrations", "listSpaceIntegrations", User, s.listSpaceIntegrations},
		{"GET", "/v1/spaces/{spaceId}/integration-blocks", "listSpaceIntegrationsBlocks", Any, s.listSpaceIntegrationBlocks},

		// Integrations.
		{"GET", "/v1/integrations", "listIntegrations", Any, s.listIntegrations},
		{"GET", "/v1/integrations/{integrationName}", "getIntegrationByName", Any, s.getIntegration},
		{"POST", "/v1/integrations/{integrationName}", "publishIntegration", User, s.publishIntegration},
		{"DELETE", "/v1/integrations/{integrationName}", "unpublishIntegration", User, s.unpublishIntegration},

		// Installations on organizations.
		{"GET", "/v1/integrations/{integrationName}/installations", "listIntegrationInstallations", Integration | Installation, s.listIntegrationInstallations},
		{"POST", "/v1/integrations/{integrationName}/installations", "installIntegration", User, s.installIntegration},
		{"GET", "/v1/integrations/{integrationName}/installations/{installationId}", "getIntegrationInstallationById", Any, s.getInstallation},
		{"PATCH", "/v1/integrations/{integrationName}/installations/{installationId}", "updateIntegrationInstallation", Any, s.updateInstallation},
		{"DELETE", "/v1/integrations/{integrationName}/installations/{installationId}", "uninstallIntegration", User, s.uninstallIntegration},
		{"POST", "/v1/integrations/{integrationName}/installations/{installationId}/tokens", "createIntegrationInstallationToken", Integration, s.createInstallationToken},

		// Installations on spaces.
		{"GET", "/v1/integrations/{integrationName}/spaces", "listIntegrationSpaceInstallations", Integration | Installation, s.listIntegrationSpaces},
		{"GET", "/v1/integrations/{integrationName}/installations/{installationId}/spaces", "listIntegrationInstallationSpaces", Any, s.listInstallationSpaces},
		{"POST", "/v1/integrations/{integrationName}/installations/{installationId}/spaces", "installIntegrationOnSpace", Any, s.installOnSpace},
		{"GET", "/v1/integrations/{integrationName}/installations/{installationId}/spaces/{spaceId}", "getIntegrationSpaceInstallation", Any, s.getSpaceInstallation},
		{"PATCH", "/v1/integrations/{integrationName}/installations/{installationId}/spaces/{spaceId}", "updateIntegrationSpaceInstallation", Any, s.updateSpaceInstallation},
		{"DELETE", "/v1/integrations/{integrationName}/installations/{installationId}/spaces/{spaceId}", "uninstallIntegrationFromSpace", Any, s.uninstallFromSpace},

		// Events.
		{"PUT", "/v1/integrations/{integrationName}/dev", "setIntegrationDevelopmentMode", User, s.setDevMode},
		{"DELETE", "/v1/integrations/{integrationName}/dev", "disableIntegrationDevelopmentMode", User, s.disableDevMode},
		{"POST", "/v1/integrations/{integrationName}/tasks", "queueIntegrationTask", Integration, s.queueTask},
		{"GET", "/v1/integrations/{integrationName}/events", "listIntegrationEvents", Any, s.listEvents},
		{"GET", "/v1/integrations/{integrationName}/events/{eventId}", "getIntegrationEvent", Any, s.getEvent},

		// Organization views.
		{"GET", "/v1/orgs/{organizationId}/integrations", "listOrganizationIntegrations", Any, s.listOrgIntegrations},
		{"GET", "/v1/orgs/{organizationId}/installations", "listOrganizationInstallations", Any, s.listOrgInstallations},
		{"GET", "/v1/orgs/{organizationId}/integrations/{integrationName}/installation_status", "getOrganizationIntegrationStatus", User, s.getOrgIntegrationStatus},
		{"GET", "/v1/orgs/{organizationId}/integrations/installations-status", "listOrganizationIntegrationsStatus", Any, s.listOrgIntegrationsStatus},

		// Extensions for ordinary callers.
		{"POST", "/ext/integrations/{integrationName}/tokens", "createIntegrationToken", User, s.createIntegrationToken},
		{"GET", "/assets/integrations/{integrationName}/{assetId}", "getIntegrationAsset", Public, s.getAsset},
		{"GET", "/ext/integrations/{integrationName}/event-settings", "getEventSettings", User, s.getEventSettings},
		{"PUT", "/ext/integrations/{integrationName}/event-settings", "setEventSettings", User, s.putEventSettings},
		{"DELETE", "/ext/integrations/{integrationName}/event-settings", "deleteEventSettings", User, s.deleteEventSettings},
		{"POST", "/ext/integrations/{integrationName}/events/{eventId}/redeliver", "redeliverEvent", User | Integration, s.redeliverEvent},

		// The server's own: administration with the admin token, and health.
		{"POST", "/admin/users", "adminCreateUser", User, s.adminCreateUser},
		{"DELETE", "/admin/users/{userId}", "adminDeleteUser", User, s.adminDeleteUser},
		{"PUT", "/admin/orgs/{organizationId}/members/{userId}", "adminSetMember", User, s.adminSetMember},
		{"GET", "/healthz", "healthz", Public, s.healthz},
		{"GET", "/app/orgs/{organizationId}", "appOrganizationPage", Public, s.appPage},
		{"GET", "/app/spaces/{spaceId}", "appSpacePage", Public, s.appPage},
		{"GET", "/app/integrations/{integrationName}", "appIntegrationPage", Public, s.appPage},
		{"GET", "/app/orgs/{organizationId}/integrations/{integrationName}", "appInstallationPage", Public, s.appPage},
		{"GET", "/readyz", "readyz", Public, s.readyz},
	}
}

// noContent answers the spec's 204 ("did not exist") or 205 ("deleted"), with
// no body.
func noContent(w http.ResponseWriter, deleted bool) {
	if deleted {
		w.WriteHeader(http.StatusResetContent)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 only when the database answers, so that a load balancer
// sends requests only to replicas that can serve them; healthz only says that
// the process runs.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.svc.Store().Ping(ctx); err != nil {
		return fmt.Errorf("%w (%w)", integrations.Errorf(integrations.EUNAVAILABLE, "The database does not answer."), err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyTimeout bounds the database check of readyz.
const readyTimeout = 5 * time.Second

// appPage answers the urls.app links of responses. This server has no web
// application: the page says so and links to the object in the API.
func (s *Server) appPage(w http.ResponseWriter, r *http.Request) error {
	api := "/v1" + strings.TrimPrefix(r.URL.EscapedPath(), "/app")
	if r.PathValue("organizationId") != "" && r.PathValue("integrationName") != "" {
		api += "/installation_status"
	}
	link := html.EscapeString(s.url(api))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>integrations server</title>`+
		`<p>This server speaks GitBook's API for integrations; it has no web application.`+
		`<p>This object is in the API at <a href="%s">%s</a> (send an API token as Authorization: Bearer).`+"\n", link, link)
	return nil
}
