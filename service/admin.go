package service

import (
	"context"

	"integrations"
)

// EnsureAdmin makes sure that a staff user exists whose API token is secret,
// and that secret is its only token: the staff user's other tokens are
// revoked, so that changing --admin-token retires the old one. With secret
// "", it creates a staff user and a new token on a database that has no
// staff user yet, and returns that token (it is shown once, never stored);
// otherwise it returns "" and leaves the staff user's tokens as they are.
func (s *Service) EnsureAdmin(ctx context.Context, secret string) (created string, err error) {
	err = s.update(ctx, func(tx integrations.Tx) error {
		created = ""
		admin, err := tx.Setting("admin_user")
		if err != nil {
			return err
		}
		if admin == "" {
			u := &integrations.User{ID: integrations.NewID(), DisplayName: "Administrator", Staff: true, CreatedAt: tx.Now()}
			if err := tx.CreateUser(u); err != nil {
				return err
			}
			if admin, err = tx.InitSetting("admin_user", u.ID); err != nil {
				return err
			}
			if secret == "" {
				created = integrations.NewTokenSecret(integrations.TokenUser)
			}
		}
		if secret == "" {
			secret = created
		}
		if secret == "" {
			return nil
		}
		hash := integrations.HashToken(secret)
		tok, err := tx.Token(hash)
		switch {
		case err == nil:
			if tok.Kind != integrations.TokenUser || tok.UserID != admin {
				return integrations.Errorf(integrations.ECONFLICT, "The admin token is already the token of someone else; choose another.")
			}
		case integrations.ErrorCode(err) == integrations.ENOTFOUND:
			if err := tx.CreateToken(&integrations.Token{Hash: hash, Kind: integrations.TokenUser, UserID: admin, CreatedAt: tx.Now()}); err != nil {
				return err
			}
		default:
			return err
		}
		_, err = tx.DeleteUserTokensExcept(admin, hash)
		return err
	})
	return created, err
}

// needStaff refuses callers that are not staff users.
func needStaff(c *integrations.Caller) error {
	if !c.IsStaff() {
		return integrations.Errorf(integrations.EFORBIDDEN, "This operation needs the admin token.")
	}
	return nil
}

// CreateUser creates a user and an API token for it (admin only). The token
// is returned once and only its hash is stored.
func (s *Service) CreateUser(ctx context.Context, u *integrations.User) (token string, err error) {
	if err := needStaff(caller(ctx)); err != nil {
		return "", err
	}
	u.ID = integrations.NewID()
	if err := u.Validate(); err != nil {
		return "", err
	}
	token = integrations.NewTokenSecret(integrations.TokenUser)
	err = s.update(ctx, func(tx integrations.Tx) error {
		u.CreatedAt = tx.Now()
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		return tx.CreateToken(&integrations.Token{Hash: integrations.HashToken(token), Kind: integrations.TokenUser, UserID: u.ID, CreatedAt: tx.Now()})
	})
	return token, err
}

// DeleteUser deletes a user with its tokens and memberships (admin only): its
// tokens stop working at once. It reports false when there was no such user.
// The admin user itself cannot be deleted.
func (s *Service) DeleteUser(ctx context.Context, id string) (bool, error) {
	if err := needStaff(caller(ctx)); err != nil {
		return false, err
	}
	if err := checkID("userId", id); err != nil {
		return false, err
	}
	deleted := false
	err := s.update(ctx, func(tx integrations.Tx) error {
		admin, err := tx.Setting("admin_user")
		if err != nil {
			return err
		}
		if id == admin {
			return integrations.Errorf(integrations.ECONFLICT, "The admin user cannot be deleted.")
		}
		deleted, err = tx.DeleteUser(id)
		return err
	})
	return deleted, err
}

// SetMember adds a user to an organization or changes its role (admin only).
func (s *Service) SetMember(ctx context.Context, orgID, userID string, role integrations.Role) (*integrations.Member, error) {
	if err := needStaff(caller(ctx)); err != nil {
		return nil, err
	}
	if err := checkID("organizationId", orgID); err != nil {
		return nil, err
	}
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, integrations.Errorf(integrations.EINVALID, "role must be one of admin, create, edit, review, comment, read.")
	}
	var m *integrations.Member
	err := s.update(ctx, func(tx integrations.Tx) error {
		if _, err := tx.Organization(orgID); err != nil {
			return notFoundAs(err, "Organization", orgID)
		}
		if _, err := tx.User(userID); err != nil {
			return notFoundAs(err, "User", userID)
		}
		if err := tx.PutMember(&integrations.Member{OrganizationID: orgID, UserID: userID, Role: role, JoinedAt: tx.Now()}); err != nil {
			return err
		}
		var err error
		m, err = tx.Member(orgID, userID)
		return err
	})
	return m, err
}
