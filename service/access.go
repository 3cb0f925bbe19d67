package service

import (
	"integrations"
)

// The access rules, in one place.
//
// Users see the organizations they belong to and everything in them; their
// role decides what they may change. Staff users act as admins of every
// organization. An installation token sees its own organization, the spaces
// its installation is enabled on and its own installation. An integration
// token sees the organizations and spaces where it is installed and its own
// installations. Anything else answers "not found", exactly as if it did not
// exist.

// Org is an organization with the caller's role in it.
type Org struct {
	*integrations.Organization
	Role integrations.Role // "" when the caller is not a member (tokens of integrations)
}

// Space is a space with the caller's role in its organization.
type Space struct {
	*integrations.Space
	Role integrations.Role
}

// Integration is an integration with the caller's role in its owner.
type Integration struct {
	*integrations.Integration
	OwnerRole integrations.Role
}

// roles memoizes the caller's role per organization during one operation.
type roles struct {
	tx     integrations.Tx
	caller *integrations.Caller
	cache  map[string]roleResult
}

type roleResult struct {
	role    integrations.Role
	visible bool
}

func newRoles(tx integrations.Tx, c *integrations.Caller) *roles {
	return &roles{tx: tx, caller: c, cache: map[string]roleResult{}}
}

// of returns the caller's role in an organization, and whether the caller may
// see it at all.
func (r *roles) of(orgID string) (integrations.Role, bool, error) {
	if res, ok := r.cache[orgID]; ok {
		return res.role, res.visible, nil
	}
	var res roleResult
	c := r.caller
	switch {
	case c.IsStaff():
		res = roleResult{integrations.RoleAdmin, true}
	case c.IsUser():
		m, err := r.tx.Member(orgID, c.User.ID)
		if err == nil {
			res = roleResult{m.Role, true}
		} else if integrations.ErrorCode(err) != integrations.ENOTFOUND {
			return "", false, err
		}
	case c.IsInstallation():
		res.visible = orgID == c.OrganizationID
	case c.IsIntegration():
		_, err := r.tx.InstallationOf(c.IntegrationID, orgID)
		if err == nil {
			res.visible = true
		} else if integrations.ErrorCode(err) != integrations.ENOTFOUND {
			return "", false, err
		}
	}
	r.cache[orgID] = res
	return res.role, res.visible, nil
}

// organization loads an organization the caller may see.
func (r *roles) organization(id string) (Org, error) {
	if err := checkID("organizationId", id); err != nil {
		return Org{}, err
	}
	o, err := r.tx.Organization(id)
	if err != nil {
		return Org{}, notFoundAs(err, "Organization", id)
	}
	role, visible, err := r.of(id)
	if err != nil {
		return Org{}, err
	} else if !visible {
		return Org{}, errNotFound("Organization", id)
	}
	return Org{o, role}, nil
}

// space loads a space the caller may see.
func (r *roles) space(id string) (Space, error) {
	if err := checkID("spaceId", id); err != nil {
		return Space{}, err
	}
	s, err := r.tx.Space(id)
	if err != nil {
		return Space{}, notFoundAs(err, "Space", id)
	}
	ok, role, err := r.canSeeSpace(s)
	if err != nil {
		return Space{}, err
	} else if !ok {
		return Space{}, errNotFound("Space", id)
	}
	return Space{s, role}, nil
}

// canSeeSpace reports whether the caller may see a space, with its role.
func (r *roles) canSeeSpace(s *integrations.Space) (bool, integrations.Role, error) {
	role, visible, err := r.of(s.OrganizationID)
	if err != nil || !visible {
		return false, "", err
	}
	c := r.caller
	switch {
	case c.IsUser():
		return true, role, nil
	case c.IsInstallation():
		ok, err := r.covers(c.InstallationID, s)
		return ok, "", err
	case c.IsIntegration():
		in, err := r.tx.InstallationOf(c.IntegrationID, s.OrganizationID)
		if err != nil {
			return false, "", ignoreNotFound(err)
		}
		ok, err := r.covers(in.ID, s)
		return ok, "", err
	}
	return false, "", nil
}

// covers reports whether an installation reaches a space: all the spaces of
// its organization when it selects all, else those it is installed on; none
// when its integration's target does not reach spaces.
func (r *roles) covers(installationID string, s *integrations.Space) (bool, error) {
	in, err := r.tx.Installation(installationID)
	if err != nil {
		return false, ignoreNotFound(err)
	}
	if in.OrganizationID != s.OrganizationID {
		return false, nil
	}
	i, err := r.tx.IntegrationByID(in.IntegrationID)
	if err != nil || !i.CanInstallOnSpace() {
		return false, ignoreNotFound(err)
	}
	if in.SpaceSelection == "all" {
		return true, nil
	}
	_, err = r.tx.SpaceInstallation(installationID, s.ID)
	if err != nil {
		return false, ignoreNotFound(err)
	}
	return true, nil
}

// notFoundAs rewrites a store's not-found error into the API's message.
func notFoundAs(err error, kind, id string) error {
	if integrations.ErrorCode(err) == integrations.ENOTFOUND {
		return errNotFound(kind, id)
	}
	return err
}

// ignoreNotFound turns a not-found error into nil.
func ignoreNotFound(err error) error {
	if integrations.ErrorCode(err) == integrations.ENOTFOUND {
		return nil
	}
	return err
}

// forbidden is the error for a caller who may see an object but not do this.
func forbidden(format string, args ...any) error {
	return integrations.Errorf(integrations.EFORBIDDEN, format, args...)
}

// needUser refuses callers that are not users.
func needUser(c *integrations.Caller) error {
	if !c.IsUser() {
		return integrations.Errorf(integrations.EUNAUTHORIZED, "This operation needs a user token.")
	}
	return nil
}
