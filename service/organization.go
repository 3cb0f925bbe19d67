package service

import (
	"context"
	"strings"

	"integrations"
)

// User returns the calling user.
func (s *Service) User(ctx context.Context) (*integrations.User, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return nil, err
	}
	var u *integrations.User
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		var err error
		u, err = tx.User(c.User.ID)
		return notFoundAs(err, "User", c.User.ID)
	})
	return u, err
}

// UserByID returns a user the calling user may see: itself, the members of
// its organizations, and everyone for staff. Others are not found, as users
// that do not exist.
func (s *Service) UserByID(ctx context.Context, id string) (*integrations.User, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return nil, err
	}
	// The spec gives userId no pattern: an id that cannot exist is not found.
	if !integrations.ValidID(id) {
		return nil, errNotFound("User", id)
	}
	var u *integrations.User
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		if id != c.User.ID && !c.IsStaff() {
			shared, err := tx.ShareOrganization(c.User.ID, id)
			if err != nil {
				return err
			} else if !shared {
				return errNotFound("User", id)
			}
		}
		var err error
		u, err = tx.User(id)
		return notFoundAs(err, "User", id)
	})
	return u, err
}

// Organizations lists the organizations the calling user belongs to, all of
// them for staff, in the order of their creation.
func (s *Service) Organizations(ctx context.Context, p Paging) (List[Org], error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return List[Org]{}, err
	}
	var out List[Org]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		f := integrations.OrganizationFilter{MemberID: c.User.ID}
		if c.IsStaff() {
			f.MemberID = ""
		}
		orgs, err := list(s, p, []string{"orgs", c.ID()}, orgCursor, func(page integrations.Page) ([]*integrations.Organization, int, error) {
			return tx.Organizations(f, page)
		})
		if err != nil {
			return err
		}
		out, err = withRoles(newRoles(tx, c), orgs)
		return err
	})
	return out, err
}

func orgCursor(o *integrations.Organization) integrations.Cursor {
	return integrations.Cursor{At: o.CreatedAt.UnixMicro(), ID: o.ID}
}

func withRoles(r *roles, orgs List[*integrations.Organization]) (List[Org], error) {
	out := List[Org]{Items: make([]Org, len(orgs.Items)), Count: orgs.Count, Next: orgs.Next}
	for n, o := range orgs.Items {
		role, _, err := r.of(o.ID)
		if err != nil {
			return out, err
		}
		out.Items[n] = Org{o, role}
	}
	return out, nil
}

// CreateOrganization creates an organization whose admin is the calling user.
func (s *Service) CreateOrganization(ctx context.Context, o *integrations.Organization) (Org, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return Org{}, err
	}
	o.ID = integrations.NewID()
	if err := o.Validate(); err != nil {
		return Org{}, err
	}
	err := s.update(ctx, func(tx integrations.Tx) error {
		o.CreatedAt = tx.Now()
		if err := tx.CreateOrganization(o); err != nil {
			return err
		}
		return tx.PutMember(&integrations.Member{OrganizationID: o.ID, UserID: c.User.ID, Role: integrations.RoleAdmin, JoinedAt: tx.Now()})
	})
	return Org{o, integrations.RoleAdmin}, err
}

// Organization returns an organization the caller may see.
func (s *Service) Organization(ctx context.Context, id string) (Org, error) {
	var out Org
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		var err error
		out, err = newRoles(tx, caller(ctx)).organization(id)
		return err
	})
	return out, err
}

// MemberQuery filters and orders a listing of members.
type MemberQuery struct {
	Role   string // a role, or "guest" (no member is a guest here)
	Search string
	Sort   string // joinedAt (default), lastSeenAt (the same here) or name
	Order  string // desc (default) or asc
}

// Members lists an organization's members; any member may list them.
func (s *Service) Members(ctx context.Context, orgID string, q MemberQuery, p Paging) (List[*integrations.Member], error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return List[*integrations.Member]{}, err
	}
	f := integrations.MemberFilter{OrganizationID: orgID, Search: q.Search}
	switch q.Sort {
	case "", "joinedAt", "lastSeenAt":
	case "name":
		f.SortByName = true
	default:
		return List[*integrations.Member]{}, integrations.Errorf(integrations.EINVALID, "sort must be joinedAt, lastSeenAt or name.")
	}
	switch q.Order {
	case "", "desc":
		f.Descending = true
	case "asc":
	default:
		return List[*integrations.Member]{}, integrations.Errorf(integrations.EINVALID, "order must be asc or desc.")
	}
	guests := false
	switch {
	case q.Role == "":
	case q.Role == "guest":
		guests = true
	case integrations.Role(q.Role).Valid():
		f.Role = integrations.Role(q.Role)
	default:
		return List[*integrations.Member]{}, integrations.Errorf(integrations.EINVALID, "role must be a member role or guest.")
	}
	var out List[*integrations.Member]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		if _, err := newRoles(tx, c).organization(orgID); err != nil {
			return err
		}
		scope := []string{"members", orgID, q.Role, q.Search, q.Sort, q.Order, c.ID()}
		var err error
		out, err = list(s, p, scope, func(m *integrations.Member) integrations.Cursor {
			if f.SortByName {
				return integrations.Cursor{Key: m.User.DisplayName, ID: m.UserID}
			}
			return integrations.Cursor{At: m.JoinedAt.UnixMicro(), ID: m.UserID}
		}, func(page integrations.Page) ([]*integrations.Member, int, error) {
			if guests {
				return nil, 0, nil
			}
			return tx.Members(f, page)
		})
		return err
	})
	return out, err
}

// Spaces lists an organization's spaces in the order of their creation. An
// installation token sees only the spaces its installation is enabled on.
func (s *Service) Spaces(ctx context.Context, orgID string, p Paging) (List[Space], error) {
	c := caller(ctx)
	var out List[Space]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		org, err := r.organization(orgID)
		if err != nil {
			return err
		}
		f := integrations.SpaceFilter{OrganizationID: orgID}
		switch {
		case c.IsInstallation():
			if err := needSpaceScope(tx, c); err != nil {
				return err
			}
			f.InstallationID = c.InstallationID
		case !c.IsUser():
			return integrations.Errorf(integrations.EFORBIDDEN, "Listing spaces needs a user or installation token.")
		}
		spaces, err := list(s, p, []string{"spaces", orgID, c.ID()}, spaceCursor, func(page integrations.Page) ([]*integrations.Space, int, error) {
			return tx.Spaces(f, page)
		})
		out = List[Space]{Items: make([]Space, len(spaces.Items)), Count: spaces.Count, Next: spaces.Next}
		for n, sp := range spaces.Items {
			out.Items[n] = Space{sp, org.Role}
		}
		return err
	})
	return out, err
}

func spaceCursor(s *integrations.Space) integrations.Cursor {
	return integrations.Cursor{At: s.CreatedAt.UnixMicro(), ID: s.ID}
}

// spaceScopes are the scopes that let an integration read spaces.
var spaceScopes = []string{"space:metadata:read", "space:metadata:write", "space:content:read", "space:content:write"}

// needSpaceScope refuses the token of an integration that declared no scope
// to read spaces.
func needSpaceScope(tx integrations.Tx, c *integrations.Caller) error {
	if c.IsUser() {
		return nil
	}
	i, err := tx.IntegrationByID(c.IntegrationID)
	if err != nil {
		return err
	}
	for _, scope := range spaceScopes {
		if i.HasScope(scope) {
			return nil
		}
	}
	return forbidden("Integration %q declared none of the scopes that read spaces (%s).", i.Name, strings.Join(spaceScopes, ", "))
}
