package service

import (
	"cmp"
	"context"

	"integrations"
)

// OrganizationIntegrations lists the integrations an organization may use:
// every public one, plus the private and unlisted ones it owns or has
// installed.
func (s *Service) OrganizationIntegrations(ctx context.Context, orgID string, q IntegrationQuery, p Paging) (List[Integration], error) {
	c := caller(ctx)
	var out List[Integration]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		if _, err := r.organization(orgID); err != nil {
			return err
		}
		f := q.filter()
		f.VisibleToOrganization = orgID
		found, err := list(s, p, q.scope("orgIntegrations", c, orgID), integrationCursor, func(page integrations.Page) ([]*integrations.Integration, int, error) {
			return tx.Integrations(f, page)
		})
		if err != nil {
			return err
		}
		out, err = withOwnerRoles(r, found)
		return err
	})
	return out, err
}

// InstallationWithIntegration pairs an installation with its integration.
type InstallationWithIntegration struct {
	Installation Installation
	Integration  Integration
}

// OrganizationInstallations lists the installations of an organization,
// with search on the integrations' names and titles.
func (s *Service) OrganizationInstallations(ctx context.Context, orgID, search string, p Paging) (List[InstallationWithIntegration], error) {
	c := caller(ctx)
	var out List[InstallationWithIntegration]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		org, err := r.organization(orgID)
		if err != nil {
			return err
		}
		f := integrations.InstallationFilter{OrganizationID: orgID, Search: search}
		switch {
		case c.IsInstallation():
			f.ID = c.InstallationID
		case c.IsIntegration():
			f.IntegrationID = c.IntegrationID
		}
		found, err := list(s, p, []string{"orgInstallations", orgID, search, c.ID()}, installationCursor, func(page integrations.Page) ([]*integrations.Installation, int, error) {
			return tx.Installations(f, page)
		})
		if err != nil {
			return err
		}
		out = List[InstallationWithIntegration]{Items: make([]InstallationWithIntegration, len(found.Items)), Count: found.Count, Next: found.Next}
		for n, in := range found.Items {
			i, err := tx.IntegrationByID(in.IntegrationID)
			if err != nil {
				return err
			}
			role, _, err := r.of(i.OrganizationID)
			if err != nil {
				return err
			}
			out.Items[n] = InstallationWithIntegration{Installation{in, org.Role}, Integration{i, role}}
		}
		return nil
	})
	return out, err
}

// OrganizationIntegrationStatus returns the status of an integration's
// installation on an organization; not found when it is not installed.
func (s *Service) OrganizationIntegrationStatus(ctx context.Context, orgID, name string) (integrations.Status, error) {
	c := caller(ctx)
	var status integrations.Status
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		if _, err := r.organization(orgID); err != nil {
			return err
		}
		i, err := r.integrationEvenPrivate(name)
		if err != nil {
			return err
		}
		in, err := tx.InstallationOf(i.ID, orgID)
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			if hidden, err := r.hidden(i); err != nil || hidden {
				return cmp.Or(err, errNotFound("Integration", name))
			}
		}
		if err != nil {
			return notFoundAs(err, "Installation of integration "+name+" on organization", orgID)
		}
		status = in.Status
		return nil
	})
	return status, err
}

// InstalledIntegration is an integration installed on an organization or a
// space, with the status of that installation.
type InstalledIntegration struct {
	Status         integrations.Status
	Integration    Integration
	OrganizationID string // for installations on the organization
	SpaceID        string // for installations on a space
}

// OrganizationIntegrationsStatus lists what is installed on an organization
// (target organization), or on its spaces (target space, optionally one
// space). Sites do not exist on this server: target site lists nothing.
func (s *Service) OrganizationIntegrationsStatus(ctx context.Context, orgID, target, spaceID string, p Paging) (List[InstalledIntegration], error) {
	c := caller(ctx)
	if target == "" {
		target = "organization"
	}
	var out List[InstalledIntegration]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		if _, err := r.organization(orgID); err != nil {
			return err
		}
		integration := func(id string) (Integration, error) {
			i, err := tx.IntegrationByID(id)
			if err != nil {
				return Integration{}, err
			}
			role, _, err := r.of(i.OrganizationID)
			return Integration{i, role}, err
		}
		scope := []string{"orgIntegrationsStatus", orgID, target, spaceID, c.ID()}
		switch target {
		case "organization":
			f := integrations.InstallationFilter{OrganizationID: orgID}
			// Tokens of an integration see its own installations only.
			switch {
			case c.IsInstallation():
				f.ID = c.InstallationID
			case c.IsIntegration():
				f.IntegrationID = c.IntegrationID
			}
			found, err := list(s, p, scope, installationCursor, func(page integrations.Page) ([]*integrations.Installation, int, error) {
				return tx.Installations(f, page)
			})
			if err != nil {
				return err
			}
			out = List[InstalledIntegration]{Items: make([]InstalledIntegration, len(found.Items)), Count: found.Count, Next: found.Next}
			for n, in := range found.Items {
				i, err := integration(in.IntegrationID)
				if err != nil {
					return err
				}
				out.Items[n] = InstalledIntegration{Status: in.Status, Integration: i, OrganizationID: orgID}
			}
		case "space":
			f := integrations.SpaceInstallationFilter{OrganizationID: orgID}
			switch {
			case c.IsInstallation():
				f.InstallationID = c.InstallationID
			case c.IsIntegration():
				f.IntegrationID = c.IntegrationID
			}
			if spaceID != "" {
				if _, err := r.space(spaceID); err != nil {
					return err
				}
				f.SpaceID = spaceID
			}
			found, err := s.spaceInstallations(r, f, false, p, scope)
			if err != nil {
				return err
			}
			out = List[InstalledIntegration]{Items: make([]InstalledIntegration, len(found.Items)), Count: found.Count, Next: found.Next}
			for n, si := range found.Items {
				i, err := integration(si.IntegrationID)
				if err != nil {
					return err
				}
				out.Items[n] = InstalledIntegration{Status: si.Status, Integration: i, SpaceID: si.SpaceID}
			}
		case "site":
			out = List[InstalledIntegration]{Items: []InstalledIntegration{}}
		default:
			return integrations.Errorf(integrations.EINVALID, "target must be organization, space or site.")
		}
		return nil
	})
	return out, err
}
