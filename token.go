package integrations

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// TokenKind says who a token speaks for; each kind is one of the spec's
// security schemes.
type TokenKind string

// The kinds of tokens.
const (
	TokenUser         TokenKind = "user"                     // scheme "user": a person
	TokenIntegration  TokenKind = "integration"              // scheme "integration": an integration
	TokenInstallation TokenKind = "integration-installation" // scheme "integration-installation"
)

// Token is an API token. Only the hash of its secret is ever stored.
type Token struct {
	Hash           string
	Kind           TokenKind
	UserID         string // TokenUser
	IntegrationID  string // TokenIntegration and TokenInstallation
	InstallationID string // TokenInstallation
	ExpiresAt      time.Time
	CreatedAt      time.Time
}

// InstallationTokenTTL is how long a temporary installation token lives.
const InstallationTokenTTL = time.Hour

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// HashToken returns the stored form of a token secret.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// NewTokenSecret returns a new random token secret. The prefix tells the kind
// apart when a person reads it; the server never relies on it.
func NewTokenSecret(kind TokenKind) string {
	prefix := map[TokenKind]string{TokenUser: "gb_api_", TokenIntegration: "gb_int_", TokenInstallation: "gb_inst_"}[kind]
	return prefix + randomString(40)
}
