package api

import (
	"encoding/json"
	"net/http"

	"integrations"
	"integrations/service"
)

type installationJSON struct {
	ID             string          `json:"id"`
	Status         string          `json:"status"`
	SpaceSelection string          `json:"space_selection"`
	SiteSelection  string          `json:"site_selection"`
	Spaces         int             `json:"spaces"`
	Configuration  json.RawMessage `json:"configuration"`
	CreatedAt      string          `json:"createdAt"`
	UpdatedAt      string          `json:"updatedAt"`
	URLs           struct {
		Location              string `json:"location"`
		App                   string `json:"app"`
		PublicEndpoint        string `json:"publicEndpoint"`
		PublicContentEndpoint string `json:"publicContentEndpoint"`
	} `json:"urls"`
	ExternalIDs []string `json:"externalIds"`
	Target      struct {
		Organization string `json:"organization"`
	} `json:"target"`
}

// installationPath is the API path of an installation.
func installationPath(integration, id string) string {
	return "/v1/integrations/" + esc(integration) + "/installations/" + esc(id)
}

func (s *Server) installation(in service.Installation) installationJSON {
	j := installationJSON{ID: in.ID, Status: string(in.Status), SpaceSelection: in.SpaceSelection, SiteSelection: in.SiteSelection,
		Spaces: in.Spaces, Configuration: configJSON(in.Configuration), CreatedAt: timestamp(in.CreatedAt), UpdatedAt: timestamp(in.UpdatedAt),
		ExternalIDs: orEmpty(in.ExternalIDs)}
	j.URLs.Location = s.url(installationPath(in.IntegrationName, in.ID))
	j.URLs.App = s.url("/app/orgs/" + in.OrganizationID + "/integrations/" + esc(in.IntegrationName))
	j.URLs.PublicEndpoint = s.url("/ext/integrations/" + esc(in.IntegrationName) + "/installations/" + esc(in.ID) + "/public")
	j.URLs.PublicContentEndpoint = j.URLs.PublicEndpoint
	j.Target.Organization = in.OrganizationID
	return j
}

func configJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(`{}`)
	}
	return raw
}

type spaceInstallationJSON struct {
	Integration   string          `json:"integration"`
	Installation  string          `json:"installation"`
	Status        string          `json:"status"`
	Configuration json.RawMessage `json:"configuration"`
	ExternalIDs   []string        `json:"externalIds"`
	URLs          struct {
		Location              string `json:"location"`
		PublicEndpoint        string `json:"publicEndpoint"`
		PublicContentEndpoint string `json:"publicContentEndpoint"`
	} `json:"urls"`
	Space any `json:"space"` // its id, or the Space itself when extended
}

func (s *Server) spaceInstallation(si service.SpaceInstallation) spaceInstallationJSON {
	j := spaceInstallationJSON{Integration: si.IntegrationName, Installation: si.InstallationID, Status: string(si.Status),
		Configuration: configJSON(si.Configuration), ExternalIDs: orEmpty(si.ExternalIDs), Space: si.SpaceID}
	j.URLs.Location = s.url(installationPath(si.IntegrationName, si.InstallationID) + "/spaces/" + esc(si.SpaceID))
	j.URLs.PublicEndpoint = s.url("/ext/integrations/" + esc(si.IntegrationName) + "/installations/" + esc(si.InstallationID) + "/public")
	j.URLs.PublicContentEndpoint = j.URLs.PublicEndpoint
	if si.Space.Space != nil {
		j.Space = s.space(si.Space)
	}
	return j
}

// extended reads the extended parameter of the space installation
// operations: whether answers hold the full Space.
func extended(r *http.Request) (bool, error) {
	b, err := queryBool(r, "extended")
	return b != nil && *b, err
}

func (s *Server) installIntegration(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Organization string `json:"organization"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	in, _, err := s.svc.InstallIntegration(r.Context(), r.PathValue("integrationName"), body.Organization)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.url(installationPath(in.IntegrationName, in.ID)))
	writeJSON(w, http.StatusCreated, s.installation(in))
	return nil
}

func (s *Server) listIntegrationInstallations(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	found, err := s.svc.IntegrationInstallations(r.Context(), r.PathValue("integrationName"), r.URL.Query().Get("externalId"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(found, s.installation))
	return nil
}

func (s *Server) getInstallation(w http.ResponseWriter, r *http.Request) error {
	in, err := s.svc.Installation(r.Context(), r.PathValue("integrationName"), r.PathValue("installationId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.installation(in))
	return nil
}

// updateBody holds the fields shared by UpdateIntegrationInstallation and
// UpdateIntegrationSpaceInstallation.
type updateBody struct {
	Configuration Optional[json.RawMessage] `json:"configuration"`
	ExternalIDs   Optional[[]string]        `json:"externalIds"`
}

func (b updateBody) check() error {
	if b.Configuration.Null {
		return invalid("configuration must be an object, not null.")
	}
	if b.ExternalIDs.Null {
		return invalid("externalIds must be an array, not null.")
	}
	if b.Configuration.Set {
		if _, err := integrations.DecodeConfiguration("configuration", b.Configuration.Value); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) updateInstallation(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		updateBody
		SpaceSelection Optional[string] `json:"space_selection"`
		SiteSelection  Optional[string] `json:"site_selection"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if err := body.check(); err != nil {
		return err
	}
	if body.SpaceSelection.Null || body.SiteSelection.Null {
		return invalid("space_selection and site_selection must be all or selected, not null.")
	}
	in, err := s.svc.UpdateInstallation(r.Context(), r.PathValue("integrationName"), r.PathValue("installationId"), service.InstallationUpdate{
		Configuration: body.Configuration.Value, ExternalIDs: body.ExternalIDs.ptr(),
		SpaceSelection: body.SpaceSelection.ptr(), SiteSelection: body.SiteSelection.ptr(),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.installation(in))
	return nil
}

func (s *Server) uninstallIntegration(w http.ResponseWriter, r *http.Request) error {
	deleted, err := s.svc.Uninstall(r.Context(), r.PathValue("integrationName"), r.PathValue("installationId"))
	if err != nil {
		return err
	}
	noContent(w, deleted)
	return nil
}

func (s *Server) createInstallationToken(w http.ResponseWriter, r *http.Request) error {
	token, err := s.svc.CreateInstallationToken(r.Context(), r.PathValue("integrationName"), r.PathValue("installationId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": token})
	return nil
}

func (s *Server) listInstallationSpaces(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	ext, err := extended(r)
	if err != nil {
		return err
	}
	found, err := s.svc.InstallationSpaces(r.Context(), r.PathValue("integrationName"), r.PathValue("installationId"), ext, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(found, s.spaceInstallation))
	return nil
}

func (s *Server) listIntegrationSpaces(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	ext, err := extended(r)
	if err != nil {
		return err
	}
	found, err := s.svc.IntegrationSpaceInstallations(r.Context(), r.PathValue("integrationName"), r.URL.Query().Get("externalId"), ext, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(found, s.spaceInstallation))
	return nil
}

func (s *Server) installOnSpace(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Space string `json:"space"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	// Refuse a bad extended before the change: a 400 must change nothing.
	ext, err := extended(r)
	if err != nil {
		return err
	}
	si, _, err := s.svc.InstallOnSpace(r.Context(), r.PathValue("integrationName"), r.PathValue("installationId"), body.Space, ext)
	if err != nil {
		return err
	}
	out := s.spaceInstallation(si)
	w.Header().Set("Location", out.URLs.Location)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) getSpaceInstallation(w http.ResponseWriter, r *http.Request) error {
	ext, err := extended(r)
	if err != nil {
		return err
	}
	si, err := s.svc.SpaceInstallation(r.Context(), r.PathValue("integrationName"), r.PathValue("installationId"), r.PathValue("spaceId"), ext)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.spaceInstallation(si))
	return nil
}

func (s *Server) updateSpaceInstallation(w http.ResponseWriter, r *http.Request) error {
	var body updateBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if err := body.check(); err != nil {
		return err
	}
	ext, err := extended(r)
	if err != nil {
		return err
	}
	si, err := s.svc.UpdateSpaceInstallation(r.Context(), r.PathValue("integrationName"), r.PathValue("installationId"), r.PathValue("spaceId"),
		service.SpaceInstallationUpdate{Configuration: body.Configuration.Value, ExternalIDs: body.ExternalIDs.ptr()}, ext)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.spaceInstallation(si))
	return nil
}

func (s *Server) uninstallFromSpace(w http.ResponseWriter, r *http.Request) error {
	deleted, err := s.svc.UninstallFromSpace(r.Context(), r.PathValue("integrationName"), r.PathValue("installationId"), r.PathValue("spaceId"))
	if err != nil {
		return err
	}
	noContent(w, deleted)
	return nil
}

type installationAndIntegrationJSON struct {
	Installation installationJSON `json:"installation"`
	Integration  integrationJSON  `json:"integration"`
}

func (s *Server) listOrgInstallations(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	q, err := search(r)
	if err != nil {
		return err
	}
	found, err := s.svc.OrganizationInstallations(r.Context(), r.PathValue("organizationId"), q, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(found, func(x service.InstallationWithIntegration) installationAndIntegrationJSON {
		return installationAndIntegrationJSON{s.installation(x.Installation), s.integration(x.Integration)}
	}))
	return nil
}

func (s *Server) getOrgIntegrationStatus(w http.ResponseWriter, r *http.Request) error {
	status, err := s.svc.OrganizationIntegrationStatus(r.Context(), r.PathValue("organizationId"), r.PathValue("integrationName"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": string(status)})
	return nil
}

type installedIntegrationJSON struct {
	Status      string            `json:"status"`
	Integration integrationJSON   `json:"integration"`
	Target      map[string]string `json:"target"`
}

func (s *Server) listOrgIntegrationsStatus(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	target, err := queryEnum(r, "target", "organization", "space", "site")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Get("space") != "" && target != "space" {
		return invalid("space is only valid with target=space.")
	}
	if q.Get("site") != "" && target != "site" {
		return invalid("site is only valid with target=site.")
	}
	found, err := s.svc.OrganizationIntegrationsStatus(r.Context(), r.PathValue("organizationId"), target, q.Get("space"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(found, func(x service.InstalledIntegration) installedIntegrationJSON {
		j := installedIntegrationJSON{Status: string(x.Status), Integration: s.integration(x.Integration)}
		if x.SpaceID != "" {
			j.Target = map[string]string{"type": "space", "spaceId": x.SpaceID}
		} else {
			j.Target = map[string]string{"type": "organization", "organizationId": x.OrganizationID}
		}
		return j
	}))
	return nil
}
