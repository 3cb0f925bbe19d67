package api

import (
	"net/http"
)

// routeTable lists every operation: GitBook's under /v1 with the security
// schemes of the spec, the server's own outside it.
func (s *Server) routeTable() []Route {
	return []Route{
		// Users and organizations.
		{"GET", "/v1/user", "getAuthenticatedUser", User, s.getUser},
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

		// Organization views.
		{"GET", "/v1/orgs/{organizationId}/integrations", "listOrganizationIntegrations", Any, s.listOrgIntegrations},
		{"GET", "/v1/orgs/{organizationId}/installations", "listOrganizationInstallations", Any, s.listOrgInstallations},
		{"GET", "/v1/orgs/{organizationId}/integrations/{integrationName}/installation_status", "getOrganizationIntegrationStatus", User, s.getOrgIntegrationStatus},
		{"GET", "/v1/orgs/{organizationId}/integrations/installations-status", "listOrganizationIntegrationsStatus", Any, s.listOrgIntegrationsStatus},

		// Extensions for ordinary callers.
		{"POST", "/ext/integrations/{integrationName}/tokens", "createIntegrationToken", User, s.createIntegrationToken},
		{"GET", "/assets/integrations/{integrationName}/{assetId}", "getIntegrationAsset", Public, s.getAsset},

		// The server's own: administration with the admin token, and health.
		{"POST", "/admin/users", "adminCreateUser", User, s.adminCreateUser},
		{"PUT", "/admin/orgs/{organizationId}/members/{userId}", "adminSetMember", User, s.adminSetMember},
		{"GET", "/healthz", "healthz", Public, s.healthz},
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
