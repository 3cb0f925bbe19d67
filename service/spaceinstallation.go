package service

import (
	"context"
	"encoding/json"

	"integrations"
)

// SpaceInstallation is a space installation, with its space as the caller
// sees it.
type SpaceInstallation struct {
	*integrations.SpaceInstallation
	Space Space // filled in only when asked for (the spec's extended)
}

// withSpace keeps the space of a space installation when extended asks for
// it, which needs the scopes that read spaces, as reading the space itself
// does; without extended it drops it.
func withSpace(tx integrations.Tx, c *integrations.Caller, si *SpaceInstallation, extended bool) error {
	if !extended {
		si.Space = Space{}
		return nil
	}
	return needSpaceScope(tx, c)
}

// spaceOfInstallation loads a space of an installation's organization. A
// space the caller may see in another organization is refused with 400; one
// the caller may not see is not found.
func (r *roles) spaceOfInstallation(in Installation, spaceID string) (Space, error) {
	if err := checkID("spaceId", spaceID); err != nil {
		return Space{}, err
	}
	sp, err := r.tx.Space(spaceID)
	if err != nil {
		return Space{}, notFoundAs(err, "Space", spaceID)
	}
	if sp.OrganizationID != in.OrganizationID {
		if ok, _, err := r.canSeeSpace(sp); err != nil {
			return Space{}, err
		} else if ok && r.caller.IsUser() {
			return Space{}, integrations.Errorf(integrations.EINVALID, "Space %q belongs to another organization than installation %q.", spaceID, in.ID)
		}
		return Space{}, errNotFound("Space", spaceID)
	}
	return Space{sp, in.Role}, nil
}

// spaceInstallation loads a space installation the caller may see.
func (r *roles) spaceInstallation(name, installationID, spaceID string) (Integration, Installation, SpaceInstallation, error) {
	i, in, err := r.installation(name, installationID)
	if err != nil {
		return i, in, SpaceInstallation{}, err
	}
	sp, err := r.spaceOfInstallation(in, spaceID)
	if err != nil {
		return i, in, SpaceInstallation{}, err
	}
	si, err := r.tx.SpaceInstallation(in.ID, spaceID)
	if err != nil {
		return i, in, SpaceInstallation{}, notFoundAs(err, "Space installation", installationID+"/"+spaceID)
	}
	return i, in, SpaceInstallation{si, sp}, nil
}

// InstallOnSpace enables an installation on a space of its organization.
// Admins of the organization and the integration's tokens may. Installing it
// again answers the existing space installation, unchanged. With extended,
// the answer holds the space.
func (s *Service) InstallOnSpace(ctx context.Context, name, installationID, spaceID string, extended bool) (out SpaceInstallation, created bool, err error) {
	c := caller(ctx)
	if spaceID == "" {
		return out, false, integrations.Errorf(integrations.EINVALID, "space is required.")
	}
	err = s.update(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		i, in, err := r.installation(name, installationID)
		if err != nil {
			return err
		}
		if err := needAdmin(c, in, "install integrations on its spaces"); err != nil {
			return err
		}
		if !i.CanInstallOnSpace() {
			return integrations.Errorf(integrations.EINVALID, "Integration %q targets %s: it cannot be installed on spaces.", name, i.Target)
		}
		sp, err := r.spaceOfInstallation(in, spaceID)
		if err != nil {
			return err
		}
		out = SpaceInstallation{Space: sp}
		if err := withSpace(tx, c, &out, extended); err != nil {
			return err
		}
		status, err := integrations.ConfiguredStatus(integrations.StatusActive, i.Configurations.Space, "configuration", nil)
		if err != nil {
			return err
		}
		si := &integrations.SpaceInstallation{
			InstallationID: in.ID, SpaceID: spaceID, Status: status, Configuration: json.RawMessage(`{}`), ExternalIDs: []string{},
			CreatedAt: tx.Now(), UpdatedAt: tx.Now(), IntegrationID: i.ID, IntegrationName: i.Name, OrganizationID: in.OrganizationID,
		}
		if created, err = tx.AddSpaceInstallation(si); err != nil {
			return err
		} else if !created {
			// Enabled already: the answer is the space installation as it is.
			out.SpaceInstallation, err = tx.SpaceInstallation(in.ID, spaceID)
			return err
		}
		out.SpaceInstallation = si
		return emitSpaceInstallationSetup(tx, si, nil)
	})
	return out, created, err
}

// SpaceInstallation returns a space installation the caller may see; with
// extended, with its space.
func (s *Service) SpaceInstallation(ctx context.Context, name, installationID, spaceID string, extended bool) (SpaceInstallation, error) {
	c := caller(ctx)
	var out SpaceInstallation
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		var err error
		if _, _, out, err = newRoles(tx, c).spaceInstallation(name, installationID, spaceID); err != nil {
			return err
		}
		return withSpace(tx, c, &out, extended)
	})
	return out, err
}

// SpaceInstallationUpdate holds the fields of
// UpdateIntegrationSpaceInstallation; nil fields stay as they are.
type SpaceInstallationUpdate struct {
	Configuration json.RawMessage
	ExternalIDs   *[]string
}

// UpdateSpaceInstallation changes a space installation's configuration or
// external ids. Configuration values are checked against the integration's
// space configuration, which decides between the active and pending status.
// With extended, the answer holds the space.
func (s *Service) UpdateSpaceInstallation(ctx context.Context, name, installationID, spaceID string, u SpaceInstallationUpdate, extended bool) (SpaceInstallation, error) {
	c := caller(ctx)
	var out SpaceInstallation
	err := s.update(ctx, func(tx integrations.Tx) error {
		i, in, si, err := newRoles(tx, c).spaceInstallation(name, installationID, spaceID)
		if err != nil {
			return err
		}
		if err := needAdmin(c, in, "change its space installations"); err != nil {
			return err
		}
		if err := withSpace(tx, c, &si, extended); err != nil {
			return err
		}
		before := &previous{Status: si.Status, Configuration: configOrEmpty(si.Configuration)}
		if u.Configuration != nil {
			si.Configuration = u.Configuration
		}
		if si.Status, err = integrations.ConfiguredStatus(si.Status, i.Configurations.Space, "configuration", si.Configuration); err != nil {
			return err
		}
		if u.ExternalIDs != nil {
			if err := integrations.ValidateExternalIDs(*u.ExternalIDs); err != nil {
				return err
			}
			si.ExternalIDs = *u.ExternalIDs
		}
		si.UpdatedAt = tx.Now()
		out = si
		if err := tx.UpdateSpaceInstallation(si.SpaceInstallation); err != nil {
			return err
		}
		return emitSpaceInstallationSetup(tx, si.SpaceInstallation, before)
	})
	return out, err
}

// UninstallFromSpace removes a space installation. Admins of the
// organization and the integration's tokens may. It reports false when
// there was nothing to remove, or nothing the caller may see.
func (s *Service) UninstallFromSpace(ctx context.Context, name, installationID, spaceID string) (bool, error) {
	c := caller(ctx)
	deleted := false
	err := s.update(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		_, in, err := r.installation(name, installationID)
		if err == nil {
			_, err = r.spaceOfInstallation(in, spaceID)
		}
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		if err := needAdmin(c, in, "uninstall integrations from its spaces"); err != nil {
			if _, lookup := tx.SpaceInstallation(in.ID, spaceID); integrations.ErrorCode(lookup) == integrations.ENOTFOUND {
				return nil // nothing to refuse: it is not there
			}
			return err
		}
		si, err := tx.DeleteSpaceInstallation(in.ID, spaceID)
		if err != nil || si == nil {
			return err
		}
		deleted = true
		si.IntegrationID, si.OrganizationID = in.IntegrationID, in.OrganizationID
		return emitSpaceInstallationDeleted(tx, si)
	})
	return deleted, err
}

// InstallationSpaces lists the space installations of an installation.
// With extended, each carries its space.
func (s *Service) InstallationSpaces(ctx context.Context, name, installationID string, extended bool, p Paging) (List[SpaceInstallation], error) {
	c := caller(ctx)
	var out List[SpaceInstallation]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		_, in, err := r.installation(name, installationID)
		if err != nil {
			return err
		}
		f := integrations.SpaceInstallationFilter{InstallationID: in.ID}
		out, err = s.spaceInstallations(r, f, extended, p, []string{"installationSpaces", name, installationID, c.ID()})
		return err
	})
	return out, err
}

// IntegrationSpaceInstallations lists the space installations of an
// integration for its own tokens: all of them for an integration token,
// those of its installation for an installation token.
func (s *Service) IntegrationSpaceInstallations(ctx context.Context, name, externalID string, extended bool, p Paging) (List[SpaceInstallation], error) {
	c := caller(ctx)
	var out List[SpaceInstallation]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		i, err := r.integrationForInstallations(name)
		if err != nil {
			return err
		}
		if c.IsUser() {
			return forbidden("Listing the space installations of an integration needs one of its tokens.")
		}
		f := integrations.SpaceInstallationFilter{IntegrationID: i.ID, ExternalID: externalID}
		if c.IsInstallation() {
			f.InstallationID = c.InstallationID
		}
		out, err = s.spaceInstallations(r, f, extended, p, []string{"integrationSpaces", name, externalID, c.ID()})
		return err
	})
	return out, err
}

// spaceInstallationCursor is where a listing of space installations, by
// creation, stands after si.
func spaceInstallationCursor(si *integrations.SpaceInstallation) integrations.Cursor {
	return integrations.Cursor{At: si.CreatedAt.UnixMicro(), ID: si.InstallationID + "/" + si.SpaceID}
}

func (s *Service) spaceInstallations(r *roles, f integrations.SpaceInstallationFilter, extended bool, p Paging, scope []string) (List[SpaceInstallation], error) {
	if extended {
		if err := needSpaceScope(r.tx, r.caller); err != nil {
			return List[SpaceInstallation]{}, err
		}
	}
	found, err := list(s, p, scope, spaceInstallationCursor, func(page integrations.Page) ([]*integrations.SpaceInstallation, int, error) {
		return r.tx.SpaceInstallations(f, page)
	})
	if err != nil {
		return List[SpaceInstallation]{}, err
	}
	out := List[SpaceInstallation]{Items: make([]SpaceInstallation, len(found.Items)), Count: found.Count, Next: found.Next}
	for n, si := range found.Items {
		out.Items[n] = SpaceInstallation{SpaceInstallation: si}
		if extended {
			sp, err := r.tx.Space(si.SpaceID)
			if err != nil {
				return out, err
			}
			role, _, err := r.of(sp.OrganizationID)
			if err != nil {
				return out, err
			}
			out.Items[n].Space = Space{sp, role}
		}
	}
	return out, nil
}
