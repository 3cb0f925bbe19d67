package integrations

import (
	"net/mail"
	"strings"
	"time"
)

// User is a person who calls the API with a user token.
type User struct {
	ID          string
	DisplayName string
	Email       string // unique when set
	PhotoURL    string
	// Staff users administer the server: they may call /admin/... and act as an
	// admin of every organization.
	Staff     bool
	CreatedAt time.Time
}

// Validate checks the fields a caller may set.
func (u *User) Validate() error {
	if u.ID != "" && !ValidID(u.ID) {
		return Errorf(EINVALID, "id %q is not a valid id (letters, digits, '_' and '-', at most %d characters)", u.ID, MaxIDLength)
	}
	name := strings.TrimSpace(u.DisplayName)
	if name == "" {
		return Errorf(EINVALID, "displayName is required")
	} else if len(u.DisplayName) > 255 {
		return Errorf(EINVALID, "displayName is longer than 255 characters")
	}
	if u.Email != "" {
		if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || len(u.Email) > 320 {
			return Errorf(EINVALID, "email %q is not a valid email address", u.Email)
		}
	}
	return nil
}
