package api

import (
	"net/http"
	"strconv"

	"integrations"
	"integrations/service"
)

func (s *Server) publishIntegration(w http.ResponseWriter, r *http.Request) error {
	var body service.Publication
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	i, err := s.svc.PublishIntegration(r.Context(), r.PathValue("integrationName"), &body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.integration(i))
	return nil
}

func (s *Server) getIntegration(w http.ResponseWriter, r *http.Request) error {
	i, err := s.svc.Integration(r.Context(), r.PathValue("integrationName"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.integration(i))
	return nil
}

// integrationQuery reads the filters of integration listings.
func integrationQuery(r *http.Request) (service.IntegrationQuery, error) {
	var q service.IntegrationQuery
	var err error
	if q.Search, err = search(r); err != nil {
		return q, err
	}
	if q.Category, err = queryEnum(r, "category", integrations.IntegrationCategories...); err != nil {
		return q, err
	}
	if q.Scope, err = queryEnum(r, "scope", integrations.IntegrationScopes...); err != nil {
		return q, err
	}
	if q.Target, err = queryEnum(r, "target", integrations.IntegrationTargets...); err != nil {
		return q, err
	}
	if q.Blocks, err = queryBool(r, "blocks"); err != nil {
		return q, err
	}
	if q.ContentSources, err = queryBool(r, "contentSources"); err != nil {
		return q, err
	}
	q.Owner = r.URL.Query().Get("owner")
	if q.Owner != "" && !integrations.ValidID(q.Owner) {
		return q, invalid("owner %q is not a valid organization id.", truncate(q.Owner))
	}
	q.BlockDomain = r.URL.Query().Get("blockDomain")
	if q.BlockDomain != "" && !integrations.ValidName(q.BlockDomain) {
		return q, invalid("blockDomain must be at most 100 letters, digits, '-', '_' and '.'.")
	}
	return q, nil
}

func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	q, err := integrationQuery(r)
	if err != nil {
		return err
	}
	found, err := s.svc.Integrations(r.Context(), q, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(found, s.integration))
	return nil
}

func (s *Server) unpublishIntegration(w http.ResponseWriter, r *http.Request) error {
	deleted, err := s.svc.UnpublishIntegration(r.Context(), r.PathValue("integrationName"))
	if err != nil {
		return err
	}
	noContent(w, deleted)
	return nil
}

func (s *Server) getAsset(w http.ResponseWriter, r *http.Request) error {
	a, err := s.svc.Asset(r.Context(), r.PathValue("integrationName"), r.PathValue("assetId"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Data)))
	// Assets are named by their content: they never change.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	w.WriteHeader(http.StatusOK)
	w.Write(a.Data)
	return nil
}

func (s *Server) createIntegrationToken(w http.ResponseWriter, r *http.Request) error {
	token, err := s.svc.CreateIntegrationToken(r.Context(), r.PathValue("integrationName"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"token": token})
	return nil
}

func (s *Server) listOrgIntegrations(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	q, err := integrationQuery(r)
	if err != nil {
		return err
	}
	found, err := s.svc.OrganizationIntegrations(r.Context(), r.PathValue("organizationId"), q, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(found, s.integration))
	return nil
}
