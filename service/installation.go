package service

import (
	"context"
	"encoding/json"

	"integrations"
)

// Installation is an installation with the caller's role in its organization.
type Installation struct {
	*integrations.Installation
	Role integrations.Role
}

// installation loads an installation of the named integration that the
// caller may see: members of its organization, the integration's tokens, and
// its own installation token.
func (r *roles) installation(name, id string) (Integration, Installation, error) {
	i, err := r.integrationForInstallations(name)
	if err != nil {
		return Integration{}, Installation{}, err
	}
	hidden, err := r.hidden(i)
	if err != nil {
		return i, Installation{}, err
	}
	// What a caller who may not see the installation is told, formatted
	// only when it is.
	notFound := func() error {
		if hidden {
			return errNotFound("Integration", name)
		}
		return errNotFound("Installation", id)
	}
	if !integrations.ValidID(id) {
		if hidden {
			return i, Installation{}, notFound()
		}
		return i, Installation{}, integrations.Errorf(integrations.EINVALID, "installationId %q is not a valid id.", id)
	}
	in, err := r.tx.Installation(id)
	if err != nil || in.IntegrationID != i.ID {
		// A missing installation and another integration's are the same 404;
		// only other errors pass through.
		if err := ignoreNotFound(err); err != nil {
			return i, Installation{}, err
		}
		return i, Installation{}, notFound()
	}
	c := r.caller
	role, visible, err := r.of(in.OrganizationID)
	switch {
	case err != nil:
		return i, Installation{}, err
	case c.IsInstallation() && c.InstallationID != in.ID,
		(c.IsIntegration() || c.IsInstallation()) && c.IntegrationID != i.ID,
		c.IsUser() && !visible:
		return i, Installation{}, notFound()
	}
	return i, Installation{in, role}, nil
}

// hidden reports whether a user reaches an integration only through
// integrationEvenPrivate: a private integration of an organization the user
// is not a member of. Such a user must not learn that it exists, so whatever
// is not found then reads as the integration not found.
func (r *roles) hidden(i Integration) (bool, error) {
	if !r.caller.IsUser() || i.Visibility != "private" {
		return false, nil
	}
	_, visible, err := r.of(i.OrganizationID)
	return !visible, err
}

// integrationForInstallations loads the integration of the path of an
// installation operation. Its tokens reach only their own integration.
func (r *roles) integrationForInstallations(name string) (Integration, error) {
	c := r.caller
	if err := checkName(name); err != nil {
		return Integration{}, err
	}
	if c.IsUser() {
		return r.integrationEvenPrivate(name)
	}
	i, err := r.integration(name)
	if err == nil && c.IntegrationID != i.ID {
		return Integration{}, errNotFound("Integration", name)
	}
	return i, err
}

// integrationEvenPrivate loads an integration by name for a user, who may
// manage the installations of a private integration installed on one of the
// user's organizations even without being a member of its owner.
func (r *roles) integrationEvenPrivate(name string) (Integration, error) {
	i, err := r.integration(name)
	if integrations.ErrorCode(err) != integrations.ENOTFOUND || !integrations.ValidName(name) {
		return i, err
	}
	found, err := r.tx.Integration(name)
	if err != nil {
		return Integration{}, notFoundAs(err, "Integration", name)
	}
	role, _, err := r.of(found.OrganizationID)
	return Integration{found, role}, err
}

// needAdmin refuses users who are not admins of the installation's
// organization. Tokens of the integration pass: an integration manages its
// own installations.
func needAdmin(c *integrations.Caller, in Installation, what string) error {
	if c.IsUser() && in.Role != integrations.RoleAdmin {
		return forbidden("Only admins of organization %q may %s.", in.OrganizationID, what)
	}
	return nil
}

// InstallIntegration installs an integration on an organization; admins of
// the organization may. Installing it again answers the existing
// installation, unchanged (created is false).
func (s *Service) InstallIntegration(ctx context.Context, name, orgID string) (out Installation, created bool, err error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return out, false, err
	}
	if orgID == "" {
		return out, false, integrations.Errorf(integrations.EINVALID, "organization is required.")
	}
	err = s.update(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		i, err := r.integration(name)
		if err != nil {
			return err
		}
		org, err := r.organization(orgID)
		if err != nil {
			return err
		}
		if org.Role != integrations.RoleAdmin {
			return forbidden("Only admins of organization %q may install integrations on it.", orgID)
		}
		existing, err := tx.InstallationOf(i.ID, orgID)
		if err == nil {
			out, created = Installation{existing, org.Role}, false
			return tx.CountInstallationSpaces(existing)
		} else if integrations.ErrorCode(err) != integrations.ENOTFOUND {
			return err
		}
		status, err := integrations.ConfiguredStatus(integrations.StatusActive, i.Configurations.Account, "configuration", nil)
		if err != nil {
			return err
		}
		in := &integrations.Installation{
			ID: integrations.NewID(), IntegrationID: i.ID, OrganizationID: orgID, Status: status,
			SpaceSelection: "selected", SiteSelection: "selected", Configuration: json.RawMessage(`{}`), ExternalIDs: []string{},
			CreatedAt: tx.Now(), UpdatedAt: tx.Now(), IntegrationName: i.Name,
		}
		if err := tx.CreateInstallation(in); err != nil {
			return err
		}
		out, created = Installation{in, org.Role}, true
		return emitInstallationSetup(tx, in, nil)
	})
	return out, created, err
}

// Installation returns an installation the caller may see.
func (s *Service) Installation(ctx context.Context, name, id string) (Installation, error) {
	var out Installation
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		var err error
		if _, out, err = newRoles(tx, caller(ctx)).installation(name, id); err != nil {
			return err
		}
		return tx.CountInstallationSpaces(out.Installation)
	})
	return out, err
}

// InstallationUpdate holds the fields of UpdateIntegrationInstallation; nil
// fields stay as they are.
type InstallationUpdate struct {
	Configuration  json.RawMessage
	ExternalIDs    *[]string
	SpaceSelection *string
	SiteSelection  *string
}

// UpdateInstallation changes an installation's configuration, external ids
// or selections. Configuration values are checked against the integration's
// account configuration, which decides between the active and pending status.
func (s *Service) UpdateInstallation(ctx context.Context, name, id string, u InstallationUpdate) (Installation, error) {
	c := caller(ctx)
	var out Installation
	err := s.update(ctx, func(tx integrations.Tx) error {
		i, in, err := newRoles(tx, c).installation(name, id)
		if err != nil {
			return err
		}
		if err := needAdmin(c, in, "change its installations"); err != nil {
			return err
		}
		before := &previous{Status: in.Status, Configuration: configOrEmpty(in.Configuration)}
		if u.Configuration != nil {
			in.Configuration = u.Configuration
		}
		if in.Status, err = integrations.ConfiguredStatus(in.Status, i.Configurations.Account, "configuration", in.Configuration); err != nil {
			return err
		}
		if u.ExternalIDs != nil {
			if err := integrations.ValidateExternalIDs(*u.ExternalIDs); err != nil {
				return err
			}
			in.ExternalIDs = *u.ExternalIDs
		}
		if u.SpaceSelection != nil {
			if err := integrations.ValidateSelection("space_selection", *u.SpaceSelection); err != nil {
				return err
			}
			if *u.SpaceSelection == "all" && !i.CanInstallOnSpace() {
				return integrations.Errorf(integrations.EINVALID, "space_selection cannot be all: integration %q targets %s, which does not reach spaces.", name, i.Target)
			}
			in.SpaceSelection = *u.SpaceSelection
		}
		if u.SiteSelection != nil {
			if err := integrations.ValidateSelection("site_selection", *u.SiteSelection); err != nil {
				return err
			}
			in.SiteSelection = *u.SiteSelection
		}
		in.UpdatedAt = tx.Now()
		if err := tx.UpdateInstallation(in.Installation); err != nil {
			return err
		}
		// The count of spaces follows the selection.
		if err := tx.CountInstallationSpaces(in.Installation); err != nil {
			return err
		}
		out = in
		return emitInstallationSetup(tx, in.Installation, before)
	})
	return out, err
}

// Uninstall removes an installation with its space installations and tokens;
// admins of its organization may. It reports false when there was nothing
// to remove, or nothing the caller may see.
func (s *Service) Uninstall(ctx context.Context, name, id string) (bool, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return false, err
	}
	deleted := false
	err := s.update(ctx, func(tx integrations.Tx) error {
		_, in, err := newRoles(tx, c).installation(name, id)
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		if err := needAdmin(c, in, "uninstall integrations"); err != nil {
			return err
		}
		if err := emitInstallationDeleted(tx, in.Installation); err != nil {
			return err
		}
		deleted, err = tx.DeleteInstallation(in.ID)
		return err
	})
	return deleted, err
}

// IntegrationInstallations lists the installations of an integration for
// its own tokens: all of them for an integration token, its own for an
// installation token.
func (s *Service) IntegrationInstallations(ctx context.Context, name, externalID string, p Paging) (List[Installation], error) {
	c := caller(ctx)
	var out List[Installation]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		i, err := r.integrationForInstallations(name)
		if err != nil {
			return err
		}
		if c.IsUser() {
			return forbidden("Listing the installations of an integration needs one of its tokens.")
		}
		f := integrations.InstallationFilter{IntegrationID: i.ID, ExternalID: externalID}
		if c.IsInstallation() {
			f.ID = c.InstallationID
		}
		scope := []string{"integrationInstallations", name, externalID, c.ID()}
		found, err := list(s, p, scope, installationCursor, func(page integrations.Page) ([]*integrations.Installation, int, error) {
			return tx.Installations(f, page)
		})
		out = withInstallationRoles(found)
		return err
	})
	return out, err
}

func installationCursor(in *integrations.Installation) integrations.Cursor {
	return integrations.Cursor{At: in.CreatedAt.UnixMicro(), ID: in.ID}
}

func withInstallationRoles(l List[*integrations.Installation]) List[Installation] {
	out := List[Installation]{Items: make([]Installation, len(l.Items)), Count: l.Count, Next: l.Next}
	for n, in := range l.Items {
		out.Items[n] = Installation{Installation: in}
	}
	return out
}

// CreateInstallationToken mints a temporary token of an installation for the
// integration's own token. It lasts integrations.InstallationTokenTTL.
func (s *Service) CreateInstallationToken(ctx context.Context, name, id string) (string, error) {
	c := caller(ctx)
	if !c.IsIntegration() {
		return "", forbidden("Only the integration's own token may create installation tokens.")
	}
	secret := integrations.NewTokenSecret(integrations.TokenInstallation)
	err := s.update(ctx, func(tx integrations.Tx) error {
		i, in, err := newRoles(tx, c).installation(name, id)
		if err != nil {
			return err
		}
		return tx.CreateToken(&integrations.Token{Hash: integrations.HashToken(secret), Kind: integrations.TokenInstallation,
			IntegrationID: i.ID, InstallationID: in.ID, ExpiresAt: tx.Now().Add(integrations.InstallationTokenTTL), CreatedAt: tx.Now()})
	})
	return secret, err
}
