package service_test

import (
	"context"
	"strings"
	"testing"

	"integrations"
	"integrations/fixture"
	"integrations/internal/storetest"
	"integrations/service"
)

// lookupStore is a store whose token lookup returns, whatever hash it is
// asked for, the row of one real token, with the hash that row seems to have
// made from the hash asked for: as a faulty index or a lax collation could.
type lookupStore struct {
	integrations.Store
	real    string                    // the hash of the row returned
	rowHash func(asked string) string // the hash the returned row holds
}

func (s lookupStore) View(ctx context.Context, fn func(integrations.Tx) error) error {
	return s.Store.View(ctx, func(tx integrations.Tx) error { return fn(lookupTx{tx, s}) })
}

type lookupTx struct {
	integrations.Tx
	s lookupStore
}

func (tx lookupTx) Token(hash string) (*integrations.Token, error) {
	tok, err := tx.Tx.Token(tx.s.real)
	if err != nil {
		return nil, err
	}
	tok.Hash = tx.s.rowHash(hash)
	return tok, nil
}

// TestAuthenticateComparesTheWholeHash checks that Authenticate does not
// trust its lookup: a token is refused unless the hash of the row found is
// the whole hash of the secret sent, even when the two share all but their
// last digit. It does not measure time: that the comparison takes as long
// whatever matches is crypto/subtle's property, not tested here.
func TestAuthenticateComparesTheWholeHash(t *testing.T) {
	flip := func(c byte) string {
		if c == '0' {
			return "1"
		}
		return "0"
	}
	tests := []struct {
		name    string
		rowHash func(asked string) string
		ok      bool
	}{
		// The control: the wrapper returns a row that works when it matches.
		{"the whole hash", func(h string) string { return h }, true},
		{"all but the last digit", func(h string) string { return h[:len(h)-1] + flip(h[len(h)-1]) }, false},
		{"all but the first digit", func(h string) string { return flip(h[0]) + h[1:] }, false},
		{"its first half", func(h string) string { return h[:len(h)/2] }, false},
		{"the hash and more", func(h string) string { return h + "0" }, false},
		{"upper case", func(h string) string { return strings.ToUpper(h) }, false},
		{"nothing", func(string) string { return "" }, false},
	}
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		ctx := context.Background()
		store := open(t)
		f, err := fixture.Parse([]byte(`users: [{id: alice, displayName: Alice, email: alice@example.com, tokens: [alice-token]}]`))
		if err != nil {
			t.Fatal(err)
		}
		if err := fixture.Apply(ctx, store, f); err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				svc, err := service.New(ctx, lookupStore{Store: store, real: integrations.HashToken("alice-token"), rowHash: tt.rowHash})
				if err != nil {
					t.Fatal(err)
				}
				// Another secret than alice's: only the lookup ties it to her row.
				c, err := svc.Authenticate(ctx, "mallory-secret")
				switch {
				case tt.ok && (err != nil || c.User == nil || c.User.ID != "alice"):
					t.Errorf("a row with the whole hash: caller %+v, error %v; want alice", c, err)
				case !tt.ok && integrations.ErrorCode(err) != integrations.EUNAUTHORIZED:
					t.Errorf("a row with %s of the hash: caller %+v, error %v; want EUNAUTHORIZED", tt.name, c, err)
				case err != nil && strings.Contains(err.Error(), "mallory-secret"):
					t.Errorf("the error repeats the secret: %v", err)
				}
			})
		}
	})
}
