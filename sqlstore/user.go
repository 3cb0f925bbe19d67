package sqlstore

import (
	"database/sql"
	"errors"
	"strings"

	"integrations"
)

func (t *tx) Setting(key string) (string, error) {
	var v string
	err := t.queryRow(`SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (t *tx) InitSetting(key, value string) (string, error) {
	if _, err := t.exec(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", err
	}
	return t.Setting(key)
}

const userColumns = `u.id, u.display_name, COALESCE(u.email, ''), u.photo_url, u.staff, u.created_at`

func scanUser(s scanner) (*integrations.User, error) {
	var u integrations.User
	var staff int
	var created int64
	if err := s.Scan(&u.ID, &u.DisplayName, &u.Email, &u.PhotoURL, &staff, &created); err != nil {
		return nil, err
	}
	u.Staff = staff != 0
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// searchText is the stored, lower-cased text that searches match: both
// databases compare it with a pattern lower-cased the same way in Go, so
// that they agree on every character.
func searchText(fields ...string) string {
	return strings.ToLower(strings.Join(fields, "\n"))
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// nullable stores "" as NULL, for optional unique columns.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (t *tx) CreateUser(u *integrations.User) error {
	_, err := t.exec(`INSERT INTO users (id, display_name, email, photo_url, staff, search, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.DisplayName, nullable(u.Email), u.PhotoURL, boolInt(u.Staff), searchText(u.DisplayName, u.Email), micros(u.CreatedAt))
	return t.insertErr(err, "A user with this id or email")
}

func (t *tx) UpdateUser(u *integrations.User) error {
	ok, err := affected(t.exec(`UPDATE users SET display_name = ?, email = ?, photo_url = ?, staff = ?, search = ? WHERE id = ?`,
		u.DisplayName, nullable(u.Email), u.PhotoURL, boolInt(u.Staff), searchText(u.DisplayName, u.Email), u.ID))
	if err != nil {
		return t.insertErr(err, "A user with this email")
	} else if !ok {
		return integrations.Errorf(integrations.ENOTFOUND, "User %q not found.", u.ID)
	}
	return nil
}

func (t *tx) DeleteUser(id string) (bool, error) {
	return affected(t.exec(`DELETE FROM users WHERE id = ?`, id))
}

func (t *tx) User(id string) (*integrations.User, error) {
	return ref(t, "user:"+id, true, copyOf[integrations.User], func(t *tx) (*integrations.User, error) {
		u, err := scanUser(t.queryRow(`SELECT `+userColumns+` FROM users u WHERE u.id = ?`, id))
		return u, notFound(err, "User %q not found.", id)
	})
}

func (t *tx) UserByEmail(email string) (*integrations.User, error) {
	u, err := scanUser(t.queryRow(`SELECT `+userColumns+` FROM users u WHERE u.email = ?`, email))
	return u, notFound(err, "No user has the email %q.", email)
}

func (t *tx) CreateToken(tok *integrations.Token) error {
	_, err := t.exec(`INSERT INTO tokens (hash, kind, user_id, integration_id, installation_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		tok.Hash, string(tok.Kind), nullable(tok.UserID), nullable(tok.IntegrationID), nullable(tok.InstallationID), micros(tok.ExpiresAt), micros(tok.CreatedAt))
	return t.insertErr(err, "This token")
}

// Token takes tokens from the reference cache, but never the absence of one:
// creating a token leaves the reference generation alone.
func (t *tx) Token(hash string) (*integrations.Token, error) {
	return ref(t, "token:"+hash, false, copyOf[integrations.Token], func(t *tx) (*integrations.Token, error) { return t.token(hash) })
}

func (t *tx) token(hash string) (*integrations.Token, error) {
	var tok integrations.Token
	var kind string
	var expires, created int64
	err := t.queryRow(`SELECT hash, kind, COALESCE(user_id, ''), COALESCE(integration_id, ''), COALESCE(installation_id, ''), expires_at, created_at FROM tokens WHERE hash = ?`, hash).
		Scan(&tok.Hash, &kind, &tok.UserID, &tok.IntegrationID, &tok.InstallationID, &expires, &created)
	if err != nil {
		return nil, notFound(err, "Unknown token.")
	}
	tok.Kind = integrations.TokenKind(kind)
	tok.ExpiresAt, tok.CreatedAt = fromMicros(expires), fromMicros(created)
	return &tok, nil
}

func (t *tx) DeleteUserTokensExcept(userID, keep string) (int, error) {
	res, err := t.exec(`DELETE FROM tokens WHERE kind = ? AND user_id = ? AND hash <> ?`, string(integrations.TokenUser), userID, keep)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
