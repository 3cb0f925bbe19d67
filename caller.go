package integrations

import (
	"context"
	"time"
)

// Caller is who is calling, resolved from the request's token.
type Caller struct {
	Kind TokenKind
	// User is set for user tokens.
	User *User
	// IntegrationID and IntegrationName are set for integration and installation tokens.
	IntegrationID   string
	IntegrationName string
	// InstallationID and OrganizationID are set for installation tokens.
	InstallationID string
	OrganizationID string
	// Expires is when the token expires; zero for tokens that do not.
	Expires time.Time
}

// IsUser reports whether the caller is a user.
func (c *Caller) IsUser() bool { return c != nil && c.Kind == TokenUser && c.User != nil }

// IsStaff reports whether the caller is a staff user (the server admin).
func (c *Caller) IsStaff() bool { return c.IsUser() && c.User.Staff }

// IsIntegration reports whether the caller is an integration token.
func (c *Caller) IsIntegration() bool { return c != nil && c.Kind == TokenIntegration }

// IsInstallation reports whether the caller is an installation token.
func (c *Caller) IsInstallation() bool { return c != nil && c.Kind == TokenInstallation }

// ID returns a stable identifier of the caller, used to bind page tokens
// and rate limits to it.
func (c *Caller) ID() string {
	switch {
	case c == nil:
		return "anonymous"
	case c.IsUser():
		return "user:" + c.User.ID
	case c.IsInstallation():
		return "installation:" + c.InstallationID
	default:
		return "integration:" + c.IntegrationID
	}
}

type callerKey struct{}

// NewContextWithCaller returns a context that carries the caller.
func NewContextWithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller carried by ctx, or nil.
func CallerFromContext(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}
