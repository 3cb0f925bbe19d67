package integrations

import (
	"regexp"
	"time"
	"unicode/utf8"
)

// Organization owns spaces, members, published integrations and installations.
type Organization struct {
	ID    string
	Title string
	// Hostname is the optional subdomain that publishIntegration accepts in
	// place of the id. Unique when set.
	Hostname     string
	EmailDomains []string
	CreatedAt    time.Time
}

var orgTitlePattern = regexp.MustCompile(`\S.*\S`)

// Validate checks the organization against the spec's limits.
func (o *Organization) Validate() error {
	if o.ID != "" && !ValidID(o.ID) {
		return Errorf(EINVALID, "id %q is not a valid id (letters, digits, '_' and '-', at most %d characters)", o.ID, MaxIDLength)
	}
	if n := utf8.RuneCountInString(o.Title); n < 2 || n > 255 || !orgTitlePattern.MatchString(o.Title) {
		return Errorf(EINVALID, "title must be 2 to 255 characters, with two non-space characters on one line")
	}
	if o.Hostname != "" {
		if n := len(o.Hostname); n < 3 || n > 32 || !ValidID(o.Hostname) {
			return Errorf(EINVALID, "hostname must be 3 to 32 letters, digits, '_' or '-'")
		}
	}
	for i, d := range o.EmailDomains {
		if d == "" || len(d) > 255 {
			return Errorf(EINVALID, "emailDomains[%d] must be 1 to 255 characters", i)
		}
	}
	return nil
}

// Role is a member's role in an organization (the spec's MemberRole).
type Role string

// The roles, from most to least powerful.
const (
	RoleAdmin   Role = "admin"
	RoleCreate  Role = "create"
	RoleEdit    Role = "edit"
	RoleReview  Role = "review"
	RoleComment Role = "comment"
	RoleRead    Role = "read"
)

// Roles lists every valid role.
var Roles = []Role{RoleAdmin, RoleCreate, RoleEdit, RoleReview, RoleComment, RoleRead}

// Valid reports whether r is one of the spec's roles.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return false
}

// CanCreateContent reports whether the role may create, change and delete spaces.
func (r Role) CanCreateContent() bool { return r == RoleAdmin || r == RoleCreate }

// CanEdit reports whether the role may edit content.
func (r Role) CanEdit() bool { return r == RoleAdmin || r == RoleCreate || r == RoleEdit }

// CanReview reports whether the role may review and merge content.
func (r Role) CanReview() bool { return r.CanEdit() || r == RoleReview }

// CanComment reports whether the role may comment.
func (r Role) CanComment() bool { return r.CanReview() || r == RoleComment }

// Member is a user's membership of an organization.
type Member struct {
	OrganizationID string
	UserID         string
	Role           Role
	JoinedAt       time.Time
	User           *User // filled in by listings
}
