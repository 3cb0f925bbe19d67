package service

import (
	"context"
	"encoding/json"

	"integrations"
)

// SpaceInput holds the fields of a space that callers set. A nil field is
// left as it is (on creation: as its default).
type SpaceInput struct {
	Title        *string
	Emoji        *string // "" removes it
	Icon         *string // "" removes it
	Visibility   *string
	EditMode     *string
	Language     *string
	DefaultLevel *string // a role, "inherit", or "guest" for the spec's null
	MergeRules   json.RawMessage
}

func (in SpaceInput) apply(s *integrations.Space) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&s.Title, in.Title)
	set(&s.Emoji, in.Emoji)
	set(&s.Icon, in.Icon)
	set(&s.Visibility, in.Visibility)
	set(&s.EditMode, in.EditMode)
	set(&s.Language, in.Language)
	set(&s.DefaultLevel, in.DefaultLevel)
	if in.MergeRules != nil {
		s.MergeRules = in.MergeRules
	}
}

// CreateSpace creates a space in an organization; members who may create
// content may create spaces.
func (s *Service) CreateSpace(ctx context.Context, orgID string, in SpaceInput) (Space, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return Space{}, err
	}
	sp := &integrations.Space{ID: integrations.NewID(), OrganizationID: orgID, Visibility: "private", DefaultLevel: "inherit"}
	in.apply(sp)
	if err := sp.Validate(); err != nil {
		return Space{}, err
	}
	var out Space
	err := s.update(ctx, func(tx integrations.Tx) error {
		org, err := newRoles(tx, c).organization(orgID)
		if err != nil {
			return err
		}
		if !org.Role.CanCreateContent() {
			return forbidden("Your role in organization %q (%s) cannot create spaces.", orgID, org.Role)
		}
		sp.CreatedAt, sp.UpdatedAt = tx.Now(), tx.Now()
		if err := tx.CreateSpace(sp); err != nil {
			return err
		}
		out = Space{sp, org.Role}
		return nil
	})
	return out, err
}

// Space returns a space the caller may see.
func (s *Service) Space(ctx context.Context, id string) (Space, error) {
	c := caller(ctx)
	var out Space
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		var err error
		if out, err = newRoles(tx, c).space(id); err != nil {
			return err
		}
		return needSpaceScope(tx, c)
	})
	return out, err
}

// UpdateSpace changes a space; members who may create content may change it.
func (s *Service) UpdateSpace(ctx context.Context, id string, in SpaceInput) (Space, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return Space{}, err
	}
	var out Space
	err := s.update(ctx, func(tx integrations.Tx) error {
		sp, err := newRoles(tx, c).space(id)
		if err != nil {
			return err
		}
		if !sp.Role.CanCreateContent() {
			return forbidden("Your role in this space's organization (%s) cannot change spaces.", sp.Role)
		}
		visibility := sp.Visibility
		in.apply(sp.Space)
		if err := sp.Validate(); err != nil {
			return err
		}
		sp.UpdatedAt = tx.Now()
		if err := tx.UpdateSpace(sp.Space); err != nil {
			return err
		}
		out = sp
		if sp.Visibility != visibility {
			return emitVisibilityUpdated(tx, sp.Space, visibility)
		}
		return nil
	})
	return out, err
}

// DeleteSpace deletes a space and its space installations. It reports false
// when the space did not exist, or when the caller may not see it.
func (s *Service) DeleteSpace(ctx context.Context, id string) (bool, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return false, err
	}
	deleted := false
	err := s.update(ctx, func(tx integrations.Tx) error {
		sp, err := newRoles(tx, c).space(id)
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		if !sp.Role.CanCreateContent() {
			return forbidden("Your role in this space's organization (%s) cannot delete spaces.", sp.Role)
		}
		if err := emitSpaceDeleted(tx, id); err != nil {
			return err
		}
		deleted, err = tx.DeleteSpace(id)
		return err
	})
	return deleted, err
}

// SpaceIntegrations lists the integrations enabled in a space, by name.
func (s *Service) SpaceIntegrations(ctx context.Context, spaceID, search string, p Paging) (List[Integration], error) {
	c := caller(ctx)
	var out List[Integration]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		if _, err := r.space(spaceID); err != nil {
			return err
		}
		if err := needSpaceScope(tx, c); err != nil {
			return err
		}
		scope := []string{"spaceIntegrations", spaceID, search, c.ID()}
		found, err := list(s, p, scope, integrationCursor, func(page integrations.Page) ([]*integrations.Integration, int, error) {
			return tx.SpaceIntegrations(spaceID, integrations.IntegrationFilter{Search: search}, page)
		})
		if err != nil {
			return err
		}
		out, err = withOwnerRoles(r, found)
		return err
	})
	return out, err
}

func integrationCursor(i *integrations.Integration) integrations.Cursor {
	return integrations.Cursor{Key: i.Name, ID: i.ID}
}

func withOwnerRoles(r *roles, found List[*integrations.Integration]) (List[Integration], error) {
	out := List[Integration]{Items: make([]Integration, len(found.Items)), Count: found.Count, Next: found.Next}
	for n, i := range found.Items {
		role, _, err := r.of(i.OrganizationID)
		if err != nil {
			return out, err
		}
		out.Items[n] = Integration{i, role}
	}
	return out, nil
}

// IntegrationBlocks is the blocks one integration contributes to a space.
type IntegrationBlocks struct {
	Name   string
	Blocks []integrations.Block
}

// SpaceIntegrationBlocks lists the blocks of the integrations enabled in a
// space, by integration name.
func (s *Service) SpaceIntegrationBlocks(ctx context.Context, spaceID string) ([]IntegrationBlocks, error) {
	c := caller(ctx)
	var out []IntegrationBlocks
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		out = []IntegrationBlocks{}
		if _, err := newRoles(tx, c).space(spaceID); err != nil {
			return err
		}
		if err := needSpaceScope(tx, c); err != nil {
			return err
		}
		withBlocks := true
		return forEach(func(p integrations.Page) ([]*integrations.Integration, int, error) {
			return tx.SpaceIntegrations(spaceID, integrations.IntegrationFilter{Blocks: &withBlocks}, p)
		}, integrationCursor, func(i *integrations.Integration) error {
			out = append(out, IntegrationBlocks{i.Name, i.Blocks})
			return nil
		})
	})
	return out, err
}
