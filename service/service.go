// Package service holds the application's operations: who may do what, and
// the rules that keep the data consistent. It works on any integrations.Store
// and knows nothing of HTTP.
package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"integrations"
)

// Service runs the operations of the API for the caller carried in the context
// (integrations.CallerFromContext).
type Service struct {
	store   integrations.Store
	pageKey []byte // signs page tokens; shared by every replica through the database
	onEvent func() // called after a transaction that emitted or redelivered events commits
	tokens  tokenCache
}

// OnEvent registers a function called after each committed change that
// emitted events or made one pending again, such as the dispatcher's Wake.
func (s *Service) OnEvent(fn func()) { s.onEvent = fn }

// update runs fn in a write transaction, and tells OnEvent's function when
// the transaction emitted events or made one pending again.
func (s *Service) update(ctx context.Context, fn func(integrations.Tx) error) error {
	emitted := false
	err := s.store.Update(ctx, func(tx integrations.Tx) error {
		emitted = false // Update may run fn again
		return fn(&watchTx{Tx: tx, emitted: &emitted})
	})
	if err == nil && emitted && s.onEvent != nil {
		s.onEvent()
	}
	return err
}

// watchTx notes whether a transaction emitted events or made one pending
// again: either gives the dispatcher something to deliver now.
type watchTx struct {
	integrations.Tx
	emitted *bool
}

func (w *watchTx) CreateEvent(e *integrations.Event, attempts ...*integrations.EventAttempt) error {
	if e.Status == integrations.EventPending {
		*w.emitted = true
	}
	return w.Tx.CreateEvent(e, attempts...)
}

func (w *watchTx) RetryEvent(id string, at time.Time) error {
	*w.emitted = true
	return w.Tx.RetryEvent(id, at)
}

// New returns a service on the store. It creates the server's secrets on
// first use.
func New(ctx context.Context, store integrations.Store) (*Service, error) {
	s := &Service{store: store}
	var key string
	err := store.Update(ctx, func(tx integrations.Tx) error {
		var err error
		key, err = tx.InitSetting("page_token_key", hex.EncodeToString(randomBytes(32)))
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.pageKey, err = hex.DecodeString(key); err != nil {
		return nil, err
	}
	return s, nil
}

// Store returns the service's store.
func (s *Service) Store() integrations.Store { return s.store }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Authenticate resolves a token secret to its caller. Unknown and expired
// tokens give EUNAUTHORIZED, with a message that never repeats the secret.
func (s *Service) Authenticate(ctx context.Context, secret string) (*integrations.Caller, error) {
	hash := integrations.HashToken(secret)
	var c *integrations.Caller
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		tok, err := tx.Token(hash)
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			return integrations.Errorf(integrations.EUNAUTHORIZED, "The token is not valid.")
		} else if err != nil {
			return err
		}
		// The lookup found the hash through an index; compare it again in
		// constant time so that no timing tells how much of it matched.
		if subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(hash)) != 1 {
			return integrations.Errorf(integrations.EUNAUTHORIZED, "The token is not valid.")
		}
		if tok.Expired(tx.Now()) {
			return integrations.Errorf(integrations.EUNAUTHORIZED, "The token has expired.")
		}
		c = &integrations.Caller{Kind: tok.Kind, Expires: tok.ExpiresAt}
		switch tok.Kind {
		case integrations.TokenUser:
			c.User, err = tx.User(tok.UserID)
		case integrations.TokenIntegration, integrations.TokenInstallation:
			var i *integrations.Integration
			if i, err = tx.IntegrationByID(tok.IntegrationID); err == nil {
				c.IntegrationID, c.IntegrationName = i.ID, i.Name
			}
			if err == nil && tok.Kind == integrations.TokenInstallation {
				var in *integrations.Installation
				if in, err = tx.Installation(tok.InstallationID); err == nil {
					c.InstallationID, c.OrganizationID = in.ID, in.OrganizationID
				}
			}
		default:
			return integrations.Errorf(integrations.EUNAUTHORIZED, "The token is not valid.")
		}
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			return integrations.Errorf(integrations.EUNAUTHORIZED, "The token is not valid.")
		}
		return err
	})
	return c, err
}

// Version returns the store's version: what was computed after reading it
// stays valid while it does not change.
func (s *Service) Version(ctx context.Context) (string, error) { return s.store.Version(ctx) }

// Generation returns the store's generation: what was computed from the
// tables that identify callers after reading it stays valid while it does
// not change.
func (s *Service) Generation(ctx context.Context) (int64, error) { return s.store.Generation(ctx) }

// caller returns the caller of ctx; operations are only reached with one.
func caller(ctx context.Context) *integrations.Caller {
	if c := integrations.CallerFromContext(ctx); c != nil {
		return c
	}
	return &integrations.Caller{} // matches no access rule
}

// List is a page of a listing.
type List[T any] struct {
	Items []T
	Count int    // how many items match, on every page
	Next  string // the token of the next page; "" on the last page
}

// Paging asks for a page: the token of a previous answer's Next ("" for the
// first page) and the number of items.
type Paging struct {
	Token string
	Limit int
}

// DefaultLimit and MaxLimit bound the size of pages.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// page decodes a page token for a listing. The token is bound to the listing,
// its filters and the caller (scope): a token made for one never works for
// another.
func (s *Service) page(p Paging, scope ...string) (integrations.Page, error) {
	page := integrations.Page{Limit: p.Limit}
	if p.Limit < 0 || p.Limit > MaxLimit {
		return page, integrations.Errorf(integrations.EINVALID, "limit must be an integer from 0 to %d.", MaxLimit)
	}
	if p.Token == "" {
		return page, nil
	}
	invalid := integrations.Errorf(integrations.EINVALID, "page is not a page token of this listing.")
	body, mac, ok := strings.Cut(p.Token, ".")
	if !ok || len(p.Token) > 1024 {
		return page, invalid
	}
	sum, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(sum, s.pageMAC(body, scope)) {
		return page, invalid
	}
	data, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return page, invalid
	}
	var c integrations.Cursor
	if err := json.Unmarshal(data, &c); err != nil {
		return page, invalid
	}
	page.After = &c
	return page, nil
}

// nextPage returns the token of the page after the given last item, "" when
// there is none.
func (s *Service) nextPage(more bool, last integrations.Cursor, scope ...string) string {
	if !more {
		return ""
	}
	data, _ := json.Marshal(last)
	body := base64.RawURLEncoding.EncodeToString(data)
	return body + "." + base64.RawURLEncoding.EncodeToString(s.pageMAC(body, scope))
}

func (s *Service) pageMAC(body string, scope []string) []byte {
	m := hmac.New(sha256.New, s.pageKey)
	m.Write([]byte(strings.Join(scope, "\x00")))
	m.Write([]byte{0xff})
	m.Write([]byte(body))
	return m.Sum(nil)[:16]
}

// list runs a store listing for a page: it asks for one item more than the
// page holds to learn whether a next page exists.
func list[T any](s *Service, p Paging, scope []string, cursor func(T) integrations.Cursor,
	fetch func(integrations.Page) ([]T, int, error)) (List[T], error) {
	page, err := s.page(p, scope...)
	if err != nil {
		return List[T]{}, err
	}
	limit := page.Limit
	page.Limit++
	items, total, err := fetch(page)
	if err != nil {
		return List[T]{}, err
	}
	out := List[T]{Items: items, Count: total}
	if limit == 0 {
		out.Items = nil // a page of nothing: only the count
	} else if len(items) > limit {
		out.Items = items[:limit]
		out.Next = s.nextPage(true, cursor(items[limit-1]), scope...)
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	return out, nil
}

// forEach calls fn with every item of a store listing, page after page (of
// MaxLimit items, in the order of cursor).
func forEach[T any](fetch func(integrations.Page) ([]T, int, error), cursor func(T) integrations.Cursor, fn func(T) error) error {
	page := integrations.Page{Limit: MaxLimit}
	for {
		found, _, err := fetch(page)
		if err != nil {
			return err
		}
		for _, item := range found {
			if err := fn(item); err != nil {
				return err
			}
		}
		if len(found) < page.Limit {
			return nil
		}
		last := cursor(found[len(found)-1])
		page.After = &last
	}
}

// errNotFound returns the error for an object that does not exist or that the
// caller may not see: the two must not be told apart.
func errNotFound(kind, id string) error {
	return integrations.Errorf(integrations.ENOTFOUND, "%s %q not found.", kind, id)
}

// checkID refuses an id that breaks the spec's EntityId pattern.
func checkID(field, id string) error {
	if !integrations.ValidID(id) {
		return integrations.Errorf(integrations.EINVALID, "%s %q is not a valid id: letters, digits, '_' and '-', at most %d characters.", field, id, integrations.MaxIDLength)
	}
	return nil
}

// checkName refuses an integration name that breaks the spec's pattern.
func checkName(name string) error {
	if !integrations.ValidName(name) {
		return integrations.Errorf(integrations.EINVALID, "integrationName %q is not valid: letters, digits, '-', '_' and '.', at most %d characters.", name, integrations.MaxNameLength)
	}
	return nil
}
