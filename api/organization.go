package api

import (
	"net/http"

	"integrations"
	"integrations/service"
)

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.svc.User(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.user(u))
	return nil
}

func (s *Server) getUserByID(w http.ResponseWriter, r *http.Request) error {
	u, err := s.svc.UserByID(r.Context(), r.PathValue("userId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.user(u))
	return nil
}

func (s *Server) orgJSON(o service.Org) organizationJSON {
	return s.organization(o.Organization, o.Role)
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	orgs, err := s.svc.Organizations(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(orgs, s.orgJSON))
	return nil
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Title        string   `json:"title"`
		EmailDomains []string `json:"emailDomains"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	o, err := s.svc.CreateOrganization(r.Context(), &integrations.Organization{Title: body.Title, EmailDomains: body.EmailDomains})
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.url("/v1/orgs/"+o.ID))
	writeJSON(w, http.StatusCreated, s.orgJSON(o))
	return nil
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request) error {
	o, err := s.svc.Organization(r.Context(), r.PathValue("organizationId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.orgJSON(o))
	return nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if _, err := search(r); err != nil {
		return err
	}
	members, err := s.svc.Members(r.Context(), r.PathValue("organizationId"), service.MemberQuery{
		Role: q.Get("role"), Search: q.Get("search"), Sort: q.Get("sort"), Order: q.Get("order"),
	}, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(members, s.member))
	return nil
}

func (s *Server) adminCreateUser(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		DisplayName string `json:"displayName"`
		Email       string `json:"email"`
		PhotoURL    string `json:"photoURL"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	u := &integrations.User{DisplayName: body.DisplayName, Email: body.Email, PhotoURL: body.PhotoURL}
	token, err := s.svc.CreateUser(r.Context(), u)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.url("/v1/users/"+u.ID))
	writeJSON(w, http.StatusCreated, map[string]any{"user": s.user(u), "token": token})
	return nil
}

func (s *Server) adminDeleteUser(w http.ResponseWriter, r *http.Request) error {
	deleted, err := s.svc.DeleteUser(r.Context(), r.PathValue("userId"))
	if err != nil {
		return err
	}
	noContent(w, deleted)
	return nil
}

func (s *Server) adminSetMember(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Role string `json:"role"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	m, err := s.svc.SetMember(r.Context(), r.PathValue("organizationId"), r.PathValue("userId"), integrations.Role(body.Role))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.member(m))
	return nil
}
