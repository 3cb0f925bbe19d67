package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"integrations"
	"integrations/internal/canonjson"
)

// Run runs the store contract: what every integrations.Store implementation
// must do, written once. open returns a new, empty store; each area of the
// contract runs on its own.
//
// Every failing call runs last in its own transaction, whose error Update
// returns: PostgreSQL refuses further statements in a transaction after one
// fails, and the contract must hold there too.
func Run(t *testing.T, open func(testing.TB) integrations.Store) {
	areas := []struct {
		name string
		test func(t *testing.T, s integrations.Store)
	}{
		{"Settings", testSettings},
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"Organizations", testOrganizations},
		{"Members", testMembers},
		{"Spaces", testSpaces},
		{"Integrations", testIntegrations},
		{"IntegrationListing", testIntegrationListing},
		{"Assets", testAssets},
		{"Installations", testInstallations},
		{"SpaceInstallations", testSpaceInstallations},
		{"SpaceIntegrations", testSpaceIntegrations},
		{"Cascades", func(t *testing.T, _ integrations.Store) { testCascades(t, open) }},
		{"Timestamps", testTimestamps},
		{"Now", testNow},
		{"Transactions", testTransactions},
		{"Events", testEvents},
		{"Delivery", testDelivery},
		{"Version", testVersion},
	}
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) { a.test(t, open(t)) })
	}
}

// t0 is the time the contract's objects are created around: times are set
// explicitly so that every order is known in advance.
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns t0 plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// update runs fn in a write transaction and fails the test on an error.
func update(t testing.TB, s integrations.Store, fn func(tx integrations.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// view runs fn in a read transaction and fails the test on an error.
func view(t testing.TB, s integrations.Store, fn func(tx integrations.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// build runs fn with a builder in a write transaction.
func build(t testing.TB, s integrations.Store, fn func(b builder)) {
	t.Helper()
	update(t, s, func(tx integrations.Tx) error {
		fn(builder{t, tx})
		return nil
	})
}

// wantCode checks the application error code of err.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := integrations.ErrorCode(err); got != code {
		t.Errorf("got error %v (code %q), want code %q", err, got, code)
	}
}

// failsWith runs fn in its own write transaction and checks the code of the
// error that Update returns.
func failsWith(t testing.TB, s integrations.Store, code string, fn func(tx integrations.Tx) error) {
	t.Helper()
	wantCode(t, s.Update(t.Context(), fn), code)
}

// missing checks that a lookup finds nothing.
func missing[T any](t testing.TB, s integrations.Store, what string, lookup func(tx integrations.Tx) (T, error)) {
	t.Helper()
	err := s.View(t.Context(), func(tx integrations.Tx) error {
		_, err := lookup(tx)
		return err
	})
	if integrations.ErrorCode(err) != integrations.ENOTFOUND {
		t.Errorf("%s: got error %v, want ENOTFOUND", what, err)
	}
}

// get runs a lookup in a read transaction and fails the test on an error.
func get[T any](t testing.TB, s integrations.Store, lookup func(tx integrations.Tx) (T, error)) T {
	t.Helper()
	var v T
	view(t, s, func(tx integrations.Tx) (err error) {
		v, err = lookup(tx)
		return err
	})
	return v
}

// sameJSON compares two values through their JSON form, where absent, null,
// empty and false are alike and JSON text is compared by value, not layout.
func sameJSON(t testing.TB, what string, got, want any) {
	t.Helper()
	if g, w := canonjson.String(got), canonjson.String(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// builder creates objects in a transaction and fails the test on any error.
type builder struct {
	t  testing.TB
	tx integrations.Tx
}

func (b builder) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b builder) user(id, name, email string, created time.Time) *integrations.User {
	b.t.Helper()
	u := &integrations.User{ID: id, DisplayName: name, Email: email, CreatedAt: created}
	b.must(b.tx.CreateUser(u))
	return u
}

func (b builder) org(id, title string, created time.Time) *integrations.Organization {
	b.t.Helper()
	o := &integrations.Organization{ID: id, Title: title, EmailDomains: []string{}, CreatedAt: created}
	b.must(b.tx.CreateOrganization(o))
	return o
}

func (b builder) member(org, user string, role integrations.Role, joined time.Time) {
	b.t.Helper()
	b.must(b.tx.PutMember(&integrations.Member{OrganizationID: org, UserID: user, Role: role, JoinedAt: joined}))
}

func (b builder) space(id, org, title string, created time.Time) *integrations.Space {
	b.t.Helper()
	s := &integrations.Space{ID: id, OrganizationID: org, Title: title, Visibility: "private", DefaultLevel: "inherit", CreatedAt: created, UpdatedAt: created}
	b.must(b.tx.CreateSpace(s))
	return s
}

// newIntegration returns a minimal valid public integration.
func newIntegration(id, name, org string) *integrations.Integration {
	return &integrations.Integration{
		ID: id, Name: name, OrganizationID: org, Version: 1, Runtime: "v1", Title: name,
		Visibility: "public", Target: "all", Scopes: []string{}, Categories: []string{},
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func (b builder) integration(i *integrations.Integration) *integrations.Integration {
	b.t.Helper()
	b.must(b.tx.CreateIntegration(i))
	return i
}

func (b builder) installation(id, integrationID, org string, status integrations.Status, selection string, created time.Time) *integrations.Installation {
	b.t.Helper()
	in := &integrations.Installation{ID: id, IntegrationID: integrationID, OrganizationID: org, Status: status,
		SpaceSelection: selection, SiteSelection: "selected", Configuration: json.RawMessage(`{}`), ExternalIDs: []string{},
		CreatedAt: created, UpdatedAt: created}
	b.must(b.tx.CreateInstallation(in))
	return in
}

func (b builder) spaceInstallation(inst, space string, status integrations.Status, created time.Time) *integrations.SpaceInstallation {
	b.t.Helper()
	si := &integrations.SpaceInstallation{InstallationID: inst, SpaceID: space, Status: status,
		Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: created, UpdatedAt: created}
	b.must(b.tx.CreateSpaceInstallation(si))
	return si
}

func (b builder) token(secret string, tok integrations.Token) {
	b.t.Helper()
	tok.Hash = integrations.HashToken(secret)
	if tok.CreatedAt.IsZero() {
		tok.CreatedAt = t0
	}
	b.must(b.tx.CreateToken(&tok))
}

// listing is one listing of the store with a filter, and how to name and
// page through its items.
type listing[T any] struct {
	list   func(tx integrations.Tx, p integrations.Page) ([]T, int, error)
	key    func(T) string
	cursor func(T) integrations.Cursor
}

// checkListing checks that the listing returns want in that order with the
// total len(want), and that paging through it with every limit from 1 to
// len(want)+1, each page after the cursor of the previous page's last item,
// returns the same items, with the same total on every page.
func checkListing[T any](t *testing.T, s integrations.Store, l listing[T], want []string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	keys := func(items []T) []string {
		out := []string{}
		for _, v := range items {
			out = append(out, l.key(v))
		}
		return out
	}
	view(t, s, func(tx integrations.Tx) error {
		items, total, err := l.list(tx, integrations.Page{Limit: 1000})
		if err != nil {
			return err
		}
		if got := keys(items); !reflect.DeepEqual(got, want) {
			t.Errorf("listing: got %q, want %q", got, want)
		}
		if total != len(want) {
			t.Errorf("listing: total %d, want %d", total, len(want))
		}
		for limit := 1; limit <= len(want)+1; limit++ {
			var got []string
			page := integrations.Page{Limit: limit}
			for n := 0; n <= len(want); n++ {
				items, total, err := l.list(tx, page)
				if err != nil {
					return err
				}
				if len(items) > limit {
					t.Errorf("limit %d: page of %d items", limit, len(items))
				}
				if total != len(want) {
					t.Errorf("limit %d, page %d: total %d, want %d", limit, n, total, len(want))
				}
				got = append(got, keys(items)...)
				if len(items) < limit {
					break
				}
				c := l.cursor(items[len(items)-1])
				page.After = &c
			}
			if got == nil {
				got = []string{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("paging by %d: got %q, want %q", limit, got, want)
			}
		}
		return nil
	})
}

func testSettings(t *testing.T, s integrations.Store) {
	if v := get(t, s, func(tx integrations.Tx) (string, error) { return tx.Setting("color") }); v != "" {
		t.Errorf("absent setting: got %q, want empty", v)
	}
	for _, value := range []string{"blue", "red"} {
		var stored string
		update(t, s, func(tx integrations.Tx) (err error) {
			stored, err = tx.InitSetting("color", value)
			return err
		})
		if stored != "blue" {
			t.Errorf("InitSetting(color, %s) returned %q, want the first value blue", value, stored)
		}
	}
	if v := get(t, s, func(tx integrations.Tx) (string, error) { return tx.Setting("color") }); v != "blue" {
		t.Errorf("setting: got %q, want blue", v)
	}
}

func testUsers(t *testing.T, s integrations.Store) {
	alice := &integrations.User{ID: "alice", DisplayName: "Alice", Email: "alice@example.com", PhotoURL: "https://example.com/a.png", Staff: true, CreatedAt: at(1)}
	update(t, s, func(tx integrations.Tx) error { return tx.CreateUser(alice) })

	sameJSON(t, "User", get(t, s, func(tx integrations.Tx) (*integrations.User, error) { return tx.User("alice") }), alice)
	sameJSON(t, "UserByEmail", get(t, s, func(tx integrations.Tx) (*integrations.User, error) { return tx.UserByEmail("alice@example.com") }), alice)
	missing(t, s, "User", func(tx integrations.Tx) (*integrations.User, error) { return tx.User("nobody") })
	missing(t, s, "UserByEmail", func(tx integrations.Tx) (*integrations.User, error) { return tx.UserByEmail("nobody@example.com") })

	// Users without an email do not conflict with each other.
	build(t, s, func(b builder) {
		b.user("bob", "Bob", "", at(2))
		b.user("carol", "Carol", "", at(3))
	})
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateUser(&integrations.User{ID: "alice", DisplayName: "Other", CreatedAt: at(4)})
	})
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateUser(&integrations.User{ID: "alice2", DisplayName: "Other", Email: "alice@example.com", CreatedAt: at(4)})
	})

	changed := &integrations.User{ID: "alice", DisplayName: "Alice B.", Email: "ab@example.com", PhotoURL: "", Staff: false, CreatedAt: at(1)}
	update(t, s, func(tx integrations.Tx) error { return tx.UpdateUser(changed) })
	sameJSON(t, "updated user", get(t, s, func(tx integrations.Tx) (*integrations.User, error) { return tx.User("alice") }), changed)
	sameJSON(t, "UserByEmail after update", get(t, s, func(tx integrations.Tx) (*integrations.User, error) { return tx.UserByEmail("ab@example.com") }), changed)
	missing(t, s, "UserByEmail of the old email", func(tx integrations.Tx) (*integrations.User, error) { return tx.UserByEmail("alice@example.com") })

	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.UpdateUser(&integrations.User{ID: "bob", DisplayName: "Bob", Email: "ab@example.com"})
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.UpdateUser(&integrations.User{ID: "nobody", DisplayName: "Nobody"})
	})
}

func testTokens(t *testing.T, s integrations.Store) {
	build(t, s, func(b builder) {
		b.user("alice", "Alice", "alice@example.com", t0)
		b.org("acme", "Acme", t0)
		b.integration(newIntegration("int-slack", "slack", "acme"))
		b.installation("inst", "int-slack", "acme", integrations.StatusActive, "all", t0)
	})
	tokens := map[string]*integrations.Token{
		"user":         {Kind: integrations.TokenUser, UserID: "alice", CreatedAt: at(1)},
		"integration":  {Kind: integrations.TokenIntegration, IntegrationID: "int-slack", CreatedAt: at(2)},
		"installation": {Kind: integrations.TokenInstallation, IntegrationID: "int-slack", InstallationID: "inst", ExpiresAt: at(3600), CreatedAt: at(3)},
	}
	for secret, tok := range tokens {
		tok.Hash = integrations.HashToken(secret)
		update(t, s, func(tx integrations.Tx) error { return tx.CreateToken(tok) })
	}
	for secret, want := range tokens {
		got := get(t, s, func(tx integrations.Tx) (*integrations.Token, error) { return tx.Token(integrations.HashToken(secret)) })
		sameJSON(t, "token "+secret, got, want)
		if want.ExpiresAt.IsZero() != got.ExpiresAt.IsZero() {
			t.Errorf("token %s: ExpiresAt %v, want %v", secret, got.ExpiresAt, want.ExpiresAt)
		}
	}
	missing(t, s, "Token", func(tx integrations.Tx) (*integrations.Token, error) {
		return tx.Token(integrations.HashToken("unknown"))
	})
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateToken(&integrations.Token{Hash: integrations.HashToken("user"), Kind: integrations.TokenUser, UserID: "alice", CreatedAt: t0})
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.CreateToken(&integrations.Token{Hash: integrations.HashToken("orphan"), Kind: integrations.TokenUser, UserID: "nobody", CreatedAt: t0})
	})
}

func testOrganizations(t *testing.T, s integrations.Store) {
	acme := &integrations.Organization{ID: "acme", Title: "Acme", Hostname: "acme-host", EmailDomains: []string{"acme.com", "acme.org"}, CreatedAt: at(1)}
	update(t, s, func(tx integrations.Tx) error { return tx.CreateOrganization(acme) })
	sameJSON(t, "Organization", get(t, s, func(tx integrations.Tx) (*integrations.Organization, error) { return tx.Organization("acme") }), acme)
	sameJSON(t, "OrganizationByHostname", get(t, s, func(tx integrations.Tx) (*integrations.Organization, error) {
		return tx.OrganizationByHostname("acme-host")
	}), acme)
	sameJSON(t, "OrganizationByTitle", get(t, s, func(tx integrations.Tx) (*integrations.Organization, error) { return tx.OrganizationByTitle("Acme") }), acme)
	missing(t, s, "Organization", func(tx integrations.Tx) (*integrations.Organization, error) { return tx.Organization("nope") })
	missing(t, s, "OrganizationByHostname", func(tx integrations.Tx) (*integrations.Organization, error) { return tx.OrganizationByHostname("nope") })
	missing(t, s, "OrganizationByTitle", func(tx integrations.Tx) (*integrations.Organization, error) { return tx.OrganizationByTitle("acme") })

	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateOrganization(&integrations.Organization{ID: "acme", Title: "Other", CreatedAt: t0})
	})
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateOrganization(&integrations.Organization{ID: "other", Title: "Other", Hostname: "acme-host", CreatedAt: t0})
	})

	// Organizations without a hostname do not conflict; among equal titles
	// the oldest is found by title, whatever the ids.
	build(t, s, func(b builder) {
		b.org("z-old", "Twin", at(2))
		b.org("a-new", "Twin", at(3))
	})
	if o := get(t, s, func(tx integrations.Tx) (*integrations.Organization, error) { return tx.OrganizationByTitle("Twin") }); o.ID != "z-old" {
		t.Errorf("OrganizationByTitle(Twin) = %s, want the oldest, z-old", o.ID)
	}

	changed := &integrations.Organization{ID: "acme", Title: "Acme Corp", Hostname: "acme2", EmailDomains: []string{"acme.net"}, CreatedAt: at(1)}
	update(t, s, func(tx integrations.Tx) error { return tx.UpdateOrganization(changed) })
	sameJSON(t, "updated organization", get(t, s, func(tx integrations.Tx) (*integrations.Organization, error) { return tx.Organization("acme") }), changed)
	missing(t, s, "OrganizationByHostname of the old hostname", func(tx integrations.Tx) (*integrations.Organization, error) {
		return tx.OrganizationByHostname("acme-host")
	})
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.UpdateOrganization(&integrations.Organization{ID: "z-old", Title: "Twin", Hostname: "acme2"})
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.UpdateOrganization(&integrations.Organization{ID: "nope", Title: "Nope"})
	})

	// Listing: by creation, ties broken by id.
	build(t, s, func(b builder) {
		b.user("u", "U", "", t0)
		b.org("d", "D", at(-1))
		b.org("b", "B", at(5))
		b.org("a", "A", at(5))
		b.org("c", "C", at(6))
		b.member("b", "u", integrations.RoleRead, t0)
		b.member("c", "u", integrations.RoleAdmin, t0)
	})
	orgs := func(f integrations.OrganizationFilter) listing[*integrations.Organization] {
		return listing[*integrations.Organization]{
			list: func(tx integrations.Tx, p integrations.Page) ([]*integrations.Organization, int, error) {
				return tx.Organizations(f, p)
			},
			key: func(o *integrations.Organization) string { return o.ID },
			cursor: func(o *integrations.Organization) integrations.Cursor {
				return integrations.Cursor{At: o.CreatedAt.UnixMicro(), ID: o.ID}
			},
		}
	}
	t.Run("all", func(t *testing.T) {
		checkListing(t, s, orgs(integrations.OrganizationFilter{}), []string{"d", "acme", "z-old", "a-new", "a", "b", "c"})
	})
	t.Run("member", func(t *testing.T) {
		checkListing(t, s, orgs(integrations.OrganizationFilter{MemberID: "u"}), []string{"b", "c"})
	})
	t.Run("no member", func(t *testing.T) {
		checkListing(t, s, orgs(integrations.OrganizationFilter{MemberID: "nobody"}), nil)
	})
}

func testMembers(t *testing.T, s integrations.Store) {
	build(t, s, func(b builder) {
		b.org("acme", "Acme", t0)
		b.org("other", "Other", t0)
		users := []struct {
			id, name, email string
			role            integrations.Role
			joined          int
		}{
			{"m1", "Zoë Zed", "zoe@example.com", integrations.RoleAdmin, 1},
			{"m2", "alice", "alice@example.com", integrations.RoleRead, 2},
			{"m3", "Bob", "bob@corp.example", integrations.RoleRead, 2},
			{"m4", "Évé Dupont", "eve@example.com", integrations.RoleEdit, 3},
			{"m5", "100% Sure", "pct@example.com", integrations.RoleRead, 4},
			{"m6", "under_score", "us@example.com", integrations.RoleComment, 5},
			{"m7", `back\slash`, "bs@example.com", integrations.RoleRead, 6},
			{"m8", "Bob", "bob2@example.com", integrations.RoleCreate, 7},
		}
		for _, u := range users {
			b.user(u.id, u.name, u.email, t0)
			b.member("acme", u.id, u.role, at(u.joined))
		}
		b.user("x", "Xavier", "x@example.com", t0)
		b.member("other", "x", integrations.RoleAdmin, t0)
		b.member("other", "m1", integrations.RoleRead, t0)
	})

	m := get(t, s, func(tx integrations.Tx) (*integrations.Member, error) { return tx.Member("acme", "m4") })
	sameJSON(t, "Member", m, &integrations.Member{OrganizationID: "acme", UserID: "m4", Role: integrations.RoleEdit, JoinedAt: at(3),
		User: &integrations.User{ID: "m4", DisplayName: "Évé Dupont", Email: "eve@example.com", CreatedAt: t0}})
	missing(t, s, "Member of a non-member", func(tx integrations.Tx) (*integrations.Member, error) { return tx.Member("acme", "x") })
	missing(t, s, "Member of an unknown organization", func(tx integrations.Tx) (*integrations.Member, error) { return tx.Member("nope", "m1") })
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.PutMember(&integrations.Member{OrganizationID: "acme", UserID: "nobody", Role: integrations.RoleRead, JoinedAt: t0})
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.PutMember(&integrations.Member{OrganizationID: "nope", UserID: "m1", Role: integrations.RoleRead, JoinedAt: t0})
	})

	// A role change keeps the join time.
	build(t, s, func(b builder) { b.member("other", "m1", integrations.RoleAdmin, at(99)) })
	if m := get(t, s, func(tx integrations.Tx) (*integrations.Member, error) { return tx.Member("other", "m1") }); m.Role != integrations.RoleAdmin || !m.JoinedAt.Equal(t0) {
		t.Errorf("after a role change: role %s joined %v, want admin joined %v", m.Role, m.JoinedAt, t0)
	}

	members := func(f integrations.MemberFilter) listing[*integrations.Member] {
		f.OrganizationID = "acme"
		return listing[*integrations.Member]{
			list: func(tx integrations.Tx, p integrations.Page) ([]*integrations.Member, int, error) {
				list, total, err := tx.Members(f, p)
				for _, m := range list {
					if m.User == nil || m.User.ID != m.UserID {
						return nil, 0, fmt.Errorf("member %s: user not filled in: %+v", m.UserID, m.User)
					}
				}
				return list, total, err
			},
			key: func(m *integrations.Member) string { return m.UserID },
			cursor: func(m *integrations.Member) integrations.Cursor {
				if f.SortByName {
					return integrations.Cursor{Key: m.User.DisplayName, ID: m.UserID}
				}
				return integrations.Cursor{At: m.JoinedAt.UnixMicro(), ID: m.UserID}
			},
		}
	}
	tests := []struct {
		name   string
		filter integrations.MemberFilter
		want   []string
	}{
		{"by join time", integrations.MemberFilter{}, []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"}},
		{"by join time, descending", integrations.MemberFilter{Descending: true}, []string{"m8", "m7", "m6", "m5", "m4", "m3", "m2", "m1"}},
		// Names compare byte by byte: digits, upper case, lower case, then non-ASCII.
		{"by name", integrations.MemberFilter{SortByName: true}, []string{"m5", "m3", "m8", "m1", "m2", "m7", "m6", "m4"}},
		{"by name, descending", integrations.MemberFilter{SortByName: true, Descending: true}, []string{"m4", "m6", "m7", "m2", "m1", "m8", "m3", "m5"}},
		{"role", integrations.MemberFilter{Role: integrations.RoleRead}, []string{"m2", "m3", "m5", "m7"}},
		{"role none", integrations.MemberFilter{Role: integrations.RoleReview}, nil},
		{"search name, other case", integrations.MemberFilter{Search: "ALICE"}, []string{"m2"}},
		{"search email", integrations.MemberFilter{Search: "corp.EXAMPLE"}, []string{"m3"}},
		{"search non-ASCII, other case", integrations.MemberFilter{Search: "ÉVÉ"}, []string{"m4"}},
		{"search non-ASCII", integrations.MemberFilter{Search: "évé d"}, []string{"m4"}},
		{"search percent", integrations.MemberFilter{Search: "%"}, []string{"m5"}},
		{"search underscore", integrations.MemberFilter{Search: "_"}, []string{"m6"}},
		{"search backslash", integrations.MemberFilter{Search: `\`}, []string{"m7"}},
		{"search nothing", integrations.MemberFilter{Search: "zzz"}, nil},
		{"search and role, by name", integrations.MemberFilter{Search: "example.com", Role: integrations.RoleRead, SortByName: true}, []string{"m5", "m2", "m7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkListing(t, s, members(tt.filter), tt.want) })
	}
}

func testSpaces(t *testing.T, s integrations.Store) {
	build(t, s, func(b builder) {
		b.org("acme", "Acme", t0)
		b.org("globex", "Globex", t0)
	})
	handbook := &integrations.Space{ID: "handbook", OrganizationID: "acme", Title: "Handbook", Emoji: "📘", Icon: "https://example.com/i.png",
		Visibility: "public", EditMode: "live", Language: "fr", DefaultLevel: "read", MergeRules: json.RawMessage(`{"mergeRule": "require-approvals"}`),
		CreatedAt: at(3), UpdatedAt: at(4)}
	update(t, s, func(tx integrations.Tx) error { return tx.CreateSpace(handbook) })
	sameJSON(t, "Space", get(t, s, func(tx integrations.Tx) (*integrations.Space, error) { return tx.Space("handbook") }), handbook)
	sameJSON(t, "SpaceByTitle", get(t, s, func(tx integrations.Tx) (*integrations.Space, error) { return tx.SpaceByTitle("acme", "Handbook") }), handbook)
	missing(t, s, "Space", func(tx integrations.Tx) (*integrations.Space, error) { return tx.Space("nope") })
	missing(t, s, "SpaceByTitle in another organization", func(tx integrations.Tx) (*integrations.Space, error) { return tx.SpaceByTitle("globex", "Handbook") })
	missing(t, s, "SpaceByTitle in another case", func(tx integrations.Tx) (*integrations.Space, error) { return tx.SpaceByTitle("acme", "handbook") })

	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateSpace(&integrations.Space{ID: "handbook", OrganizationID: "globex", Visibility: "private", CreatedAt: t0, UpdatedAt: t0})
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.CreateSpace(&integrations.Space{ID: "orphan", OrganizationID: "nope", Visibility: "private", CreatedAt: t0, UpdatedAt: t0})
	})

	// A space without merge rules keeps none; equal titles find the oldest
	// space of the organization asked for.
	build(t, s, func(b builder) {
		b.space("b", "acme", "Blog", at(1))
		b.space("a", "acme", "Blog", at(1))
		b.space("c", "acme", "Twin", at(2))
		b.space("d", "globex", "Twin", at(0))
		b.space("e", "acme", "Twin", at(5))
	})
	if sp := get(t, s, func(tx integrations.Tx) (*integrations.Space, error) { return tx.Space("a") }); sp.MergeRules != nil {
		t.Errorf("space without merge rules: got %s", sp.MergeRules)
	}
	for _, tt := range []struct{ org, title, want string }{{"acme", "Blog", "a"}, {"acme", "Twin", "c"}, {"globex", "Twin", "d"}} {
		if sp := get(t, s, func(tx integrations.Tx) (*integrations.Space, error) { return tx.SpaceByTitle(tt.org, tt.title) }); sp.ID != tt.want {
			t.Errorf("SpaceByTitle(%s, %s) = %s, want %s", tt.org, tt.title, sp.ID, tt.want)
		}
	}

	changed := &integrations.Space{ID: "handbook", OrganizationID: "acme", Title: "Manual", Visibility: "private", DefaultLevel: "inherit", CreatedAt: at(3), UpdatedAt: at(10)}
	update(t, s, func(tx integrations.Tx) error { return tx.UpdateSpace(changed) })
	sameJSON(t, "updated space", get(t, s, func(tx integrations.Tx) (*integrations.Space, error) { return tx.Space("handbook") }), changed)
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.UpdateSpace(&integrations.Space{ID: "nope", Visibility: "private", UpdatedAt: t0})
	})

	// Listing, by creation with ties broken by id; and by installation.
	build(t, s, func(b builder) {
		b.integration(newIntegration("i1", "one", "acme"))
		b.integration(newIntegration("i2", "two", "acme"))
		b.installation("sel", "i1", "acme", integrations.StatusActive, "selected", t0)
		b.installation("all", "i2", "acme", integrations.StatusActive, "all", t0)
		b.installation("none", "i1", "globex", integrations.StatusActive, "selected", t0)
		b.spaceInstallation("sel", "e", integrations.StatusActive, t0)
		b.spaceInstallation("sel", "b", integrations.StatusPaused, t0)
	})
	spaces := func(f integrations.SpaceFilter) listing[*integrations.Space] {
		return listing[*integrations.Space]{
			list: func(tx integrations.Tx, p integrations.Page) ([]*integrations.Space, int, error) {
				return tx.Spaces(f, p)
			},
			key: func(s *integrations.Space) string { return s.ID },
			cursor: func(s *integrations.Space) integrations.Cursor {
				return integrations.Cursor{At: s.CreatedAt.UnixMicro(), ID: s.ID}
			},
		}
	}
	tests := []struct {
		name   string
		filter integrations.SpaceFilter
		want   []string
	}{
		{"all", integrations.SpaceFilter{}, []string{"d", "a", "b", "c", "handbook", "e"}},
		{"organization", integrations.SpaceFilter{OrganizationID: "acme"}, []string{"a", "b", "c", "handbook", "e"}},
		{"unknown organization", integrations.SpaceFilter{OrganizationID: "nope"}, nil},
		{"installation on selected spaces, paused too", integrations.SpaceFilter{InstallationID: "sel"}, []string{"b", "e"}},
		{"installation on all spaces", integrations.SpaceFilter{InstallationID: "all"}, []string{"a", "b", "c", "handbook", "e"}},
		{"installation on no space", integrations.SpaceFilter{InstallationID: "none"}, nil},
		{"installation and organization", integrations.SpaceFilter{InstallationID: "all", OrganizationID: "globex"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkListing(t, s, spaces(tt.filter), tt.want) })
	}

	// Deletion.
	for _, want := range []bool{true, false} {
		var existed bool
		update(t, s, func(tx integrations.Tx) (err error) {
			existed, err = tx.DeleteSpace("handbook")
			return err
		})
		if existed != want {
			t.Errorf("DeleteSpace: got %v, want %v", existed, want)
		}
	}
	missing(t, s, "deleted space", func(tx integrations.Tx) (*integrations.Space, error) { return tx.Space("handbook") })
}

// fullIntegration returns an integration with every field set.
func fullIntegration() *integrations.Integration {
	return &integrations.Integration{
		ID: "int-full", Name: "full.app_1", OrganizationID: "acme", Version: 3, Verified: true,
		Runtime: "v2", Title: "Full App", Description: "Everything set", Summary: "# Summary\nLong text.",
		Visibility: "unlisted", Target: "space",
		Scopes:     []string{"space:content:read", "space:metadata:write"},
		Categories: []string{"content", "other"},
		Blocks: []integrations.Block{
			{ID: "b1", Title: "Block one", Description: "First", Icon: "icon.png", URLUnfurl: []string{"https://example.com/x"},
				Markdown: &integrations.BlockMarkdown{Codeblock: "b1", Body: "body"}},
			{ID: "b2", Title: "Block two"},
		},
		ContentSources: []integrations.ContentSource{{ID: "cs", Title: "Source", Description: "Computed", Icon: "cs.png",
			Configuration: json.RawMessage(`{"componentId": "config"}`)}},
		ExternalLinks: []integrations.ExternalLink{{URL: "https://example.com/docs", Label: "Docs"}},
		Configurations: integrations.Configurations{
			Account: &integrations.Configuration{
				Properties: map[string]integrations.ConfigProperty{
					"channel": {Type: "string", Title: "Channel", Description: "Where", Default: "#general", Enum: []string{"#general", "#random"}},
					"count":   {Type: "number", Default: 3.5},
					"on":      {Type: "boolean", Default: true},
					"go":      {Type: "button", ButtonText: "Go", CallbackURL: "/go", CompletionURL: "/done"},
				},
				Required: []string{"channel"},
			},
			Space: &integrations.Configuration{ComponentID: "space-config"},
		},
		ContentSecurityPolicy: json.RawMessage(`{"script-src": "'self'"}`),
		Script:                "export default {}",
		Secrets:               map[string]string{"KEY": "value"},
		Icon:                  "icon-asset.png",
		PreviewImages:         []string{"p1.png", "p2.png"},
		CreatedAt:             at(1),
		UpdatedAt:             at(2),
	}
}

// readable returns what reads give back of a stored integration: everything
// but the script, which no read returns, with its owner filled in.
func readable(i *integrations.Integration, owner *integrations.Organization) *integrations.Integration {
	v := *i
	v.Script = ""
	v.Owner = owner
	return &v
}

func testIntegrations(t *testing.T, s integrations.Store) {
	var acme, globex *integrations.Organization
	build(t, s, func(b builder) {
		acme = b.org("acme", "Acme", t0)
		globex = b.org("globex", "Globex", t0)
	})
	full := fullIntegration()
	update(t, s, func(tx integrations.Tx) error { return tx.CreateIntegration(full) })
	sameJSON(t, "Integration", get(t, s, func(tx integrations.Tx) (*integrations.Integration, error) { return tx.Integration("full.app_1") }), readable(full, acme))
	sameJSON(t, "IntegrationByID", get(t, s, func(tx integrations.Tx) (*integrations.Integration, error) { return tx.IntegrationByID("int-full") }), readable(full, acme))
	missing(t, s, "Integration", func(tx integrations.Tx) (*integrations.Integration, error) { return tx.Integration("nope") })
	missing(t, s, "Integration by id", func(tx integrations.Tx) (*integrations.Integration, error) { return tx.Integration("int-full") })
	missing(t, s, "IntegrationByID", func(tx integrations.Tx) (*integrations.Integration, error) { return tx.IntegrationByID("full.app_1") })

	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateIntegration(newIntegration("int-other", "full.app_1", "globex"))
	})
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateIntegration(newIntegration("int-full", "other", "globex"))
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.CreateIntegration(newIntegration("int-orphan", "orphan", "nope"))
	})

	// An update replaces everything, the owner included.
	changed := newIntegration("int-full", "full.app_1", "globex")
	changed.Version, changed.Title, changed.CreatedAt, changed.UpdatedAt = 4, "Changed", at(1), at(9)
	update(t, s, func(tx integrations.Tx) error { return tx.UpdateIntegration(changed) })
	got := get(t, s, func(tx integrations.Tx) (*integrations.Integration, error) { return tx.Integration("full.app_1") })
	sameJSON(t, "updated integration", got, readable(changed, globex))
	if got.Blocks != nil || got.Configurations.Account != nil || got.ContentSecurityPolicy != nil {
		t.Errorf("updated integration kept old fields: blocks %v, account %v, csp %s", got.Blocks, got.Configurations.Account, got.ContentSecurityPolicy)
	}
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.UpdateIntegration(newIntegration("int-nope", "nope", "acme"))
	})

	for _, want := range []bool{true, false} {
		var existed bool
		update(t, s, func(tx integrations.Tx) (err error) {
			existed, err = tx.DeleteIntegration("int-full")
			return err
		})
		if existed != want {
			t.Errorf("DeleteIntegration: got %v, want %v", existed, want)
		}
	}
	missing(t, s, "deleted integration", func(tx integrations.Tx) (*integrations.Integration, error) { return tx.Integration("full.app_1") })
}

func testIntegrationListing(t *testing.T, s integrations.Store) {
	var zetaID = "id-zeta"
	build(t, s, func(b builder) {
		b.org("acme", "Acme", t0)
		b.org("globex", "Globex", t0)
		b.org("initech", "Initech", t0)
		b.user("u", "U", "", t0)
		b.user("stranger", "S", "", t0)
		b.member("acme", "u", integrations.RoleRead, t0)

		alpha := newIntegration("id-alpha", "Alpha", "acme")
		alpha.Title, alpha.Categories, alpha.Scopes = "Alpha Analytics", []string{"analytics"}, []string{"space:content:read"}
		alpha.Blocks = []integrations.Block{{ID: "a", Title: "A block", URLUnfurl: []string{"https://Docs.Example.com/x", "not a url"}}}
		b.integration(alpha)

		beta := newIntegration("id-beta", "beta", "globex")
		beta.Title, beta.Target = "Évé Beta", "space"
		beta.Categories, beta.Scopes = []string{"collaboration", "content"}, []string{"space:content:write", "space:metadata:read"}
		beta.ContentSources = []integrations.ContentSource{{ID: "cs", Title: "Source", Configuration: json.RawMessage(`{"componentId":"c"}`)}}
		b.integration(beta)

		gamma := newIntegration("id-gamma", "gamma_ray", "globex")
		gamma.Title, gamma.Visibility, gamma.Target = "Gamma", "private", "site"
		b.integration(gamma)

		delta := newIntegration("id-delta", "delta.io", "globex")
		delta.Title, delta.Visibility = `Back\slash Delta`, "unlisted"
		b.integration(delta)
		b.installation("delta-initech", "id-delta", "initech", integrations.StatusActive, "all", t0)

		epsilon := newIntegration("id-epsilon", "epsilon", "acme")
		epsilon.Visibility = "private"
		epsilon.Blocks = []integrations.Block{{ID: "e", Title: "E block"}}
		epsilon.ContentSources = []integrations.ContentSource{{ID: "cs", Title: "Source", Configuration: json.RawMessage(`{"componentId":"c"}`)}}
		b.integration(epsilon)

		zeta := newIntegration(zetaID, "zeta", "globex")
		zeta.Title, zeta.Visibility = "Zeta 50% off", "private"
		b.integration(zeta)

		b.integration(newIntegration("id-zed", "Zed", "initech"))
	})
	integrationsOf := func(f integrations.IntegrationFilter) listing[*integrations.Integration] {
		return listing[*integrations.Integration]{
			list: func(tx integrations.Tx, p integrations.Page) ([]*integrations.Integration, int, error) {
				list, total, err := tx.Integrations(f, p)
				for _, i := range list {
					if i.Owner == nil || i.Owner.ID != i.OrganizationID {
						return nil, 0, fmt.Errorf("integration %s: owner not filled in: %+v", i.Name, i.Owner)
					}
				}
				return list, total, err
			},
			key: func(i *integrations.Integration) string { return i.Name },
			cursor: func(i *integrations.Integration) integrations.Cursor {
				return integrations.Cursor{Key: i.Name, ID: i.ID}
			},
		}
	}
	yes, no := true, false
	all := integrations.IntegrationFilter{AllVisible: true}
	with := func(change func(f *integrations.IntegrationFilter)) integrations.IntegrationFilter {
		f := all
		change(&f)
		return f
	}
	tests := []struct {
		name   string
		filter integrations.IntegrationFilter
		want   []string
	}{
		// Names compare byte by byte: upper case before lower case.
		{"all visible", all, []string{"Alpha", "Zed", "beta", "delta.io", "epsilon", "gamma_ray", "zeta"}},
		{"public only", integrations.IntegrationFilter{}, []string{"Alpha", "Zed", "beta"}},
		{"visible to a member of the owner", integrations.IntegrationFilter{VisibleToUser: "u"}, []string{"Alpha", "Zed", "beta", "epsilon"}},
		{"visible to a stranger", integrations.IntegrationFilter{VisibleToUser: "stranger"}, []string{"Alpha", "Zed", "beta"}},
		{"visible to the owner", integrations.IntegrationFilter{VisibleToOrganization: "globex"}, []string{"Alpha", "Zed", "beta", "delta.io", "gamma_ray", "zeta"}},
		{"visible where installed", integrations.IntegrationFilter{VisibleToOrganization: "initech"}, []string{"Alpha", "Zed", "beta", "delta.io"}},
		{"visible by id", integrations.IntegrationFilter{VisibleIntegrationID: zetaID}, []string{"Alpha", "Zed", "beta", "zeta"}},
		{"visible by several rules", integrations.IntegrationFilter{VisibleToUser: "u", VisibleIntegrationID: zetaID}, []string{"Alpha", "Zed", "beta", "epsilon", "zeta"}},
		{"search name, other case", with(func(f *integrations.IntegrationFilter) { f.Search = "LPH" }), []string{"Alpha"}},
		{"search title", with(func(f *integrations.IntegrationFilter) { f.Search = "analytics" }), []string{"Alpha"}},
		{"search non-ASCII, other case", with(func(f *integrations.IntegrationFilter) { f.Search = "ÉVÉ" }), []string{"beta"}},
		{"search percent", with(func(f *integrations.IntegrationFilter) { f.Search = "%" }), []string{"zeta"}},
		{"search underscore", with(func(f *integrations.IntegrationFilter) { f.Search = "_" }), []string{"gamma_ray"}},
		{"search backslash", with(func(f *integrations.IntegrationFilter) { f.Search = `\` }), []string{"delta.io"}},
		{"search respects visibility", integrations.IntegrationFilter{Search: "a"}, []string{"Alpha", "beta"}},
		{"category", with(func(f *integrations.IntegrationFilter) { f.Category = "content" }), []string{"beta"}},
		{"category, one of several", with(func(f *integrations.IntegrationFilter) { f.Category = "collaboration" }), []string{"beta"}},
		{"category prefix", with(func(f *integrations.IntegrationFilter) { f.Category = "analytic" }), nil},
		{"scope", with(func(f *integrations.IntegrationFilter) { f.Scope = "space:content:read" }), []string{"Alpha"}},
		{"scope, one of several", with(func(f *integrations.IntegrationFilter) { f.Scope = "space:metadata:read" }), []string{"beta"}},
		{"scope prefix", with(func(f *integrations.IntegrationFilter) { f.Scope = "space:content" }), nil},
		{"target", with(func(f *integrations.IntegrationFilter) { f.Target = "site" }), []string{"gamma_ray"}},
		{"target all", with(func(f *integrations.IntegrationFilter) { f.Target = "all" }), []string{"Alpha", "Zed", "delta.io", "epsilon", "zeta"}},
		{"owner", with(func(f *integrations.IntegrationFilter) { f.Owner = "acme" }), []string{"Alpha", "epsilon"}},
		{"block domain", with(func(f *integrations.IntegrationFilter) { f.BlockDomain = "docs.example.com" }), []string{"Alpha"}},
		{"block domain, other case", with(func(f *integrations.IntegrationFilter) { f.BlockDomain = "DOCS.example.COM" }), []string{"Alpha"}},
		{"block domain, parent domain", with(func(f *integrations.IntegrationFilter) { f.BlockDomain = "example.com" }), nil},
		{"with blocks", with(func(f *integrations.IntegrationFilter) { f.Blocks = &yes }), []string{"Alpha", "epsilon"}},
		{"without blocks", with(func(f *integrations.IntegrationFilter) { f.Blocks = &no }), []string{"Zed", "beta", "delta.io", "gamma_ray", "zeta"}},
		{"with content sources", with(func(f *integrations.IntegrationFilter) { f.ContentSources = &yes }), []string{"beta", "epsilon"}},
		{"without content sources", with(func(f *integrations.IntegrationFilter) { f.ContentSources = &no }), []string{"Alpha", "Zed", "delta.io", "gamma_ray", "zeta"}},
		{"blocks and visibility", integrations.IntegrationFilter{Blocks: &yes}, []string{"Alpha"}},
		{"owner and content sources", with(func(f *integrations.IntegrationFilter) { f.Owner = "globex"; f.ContentSources = &no }), []string{"delta.io", "gamma_ray", "zeta"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkListing(t, s, integrationsOf(tt.filter), tt.want) })
	}
}

func testAssets(t *testing.T, s integrations.Store) {
	build(t, s, func(b builder) {
		b.org("acme", "Acme", t0)
		b.integration(newIntegration("i1", "one", "acme"))
		b.integration(newIntegration("i2", "two", "acme"))
	})
	icon := &integrations.Asset{ID: "icon.png", ContentType: "image/png", Data: []byte("\x89PNG\x00\xff data")}
	update(t, s, func(tx integrations.Tx) error {
		for _, a := range []*integrations.Asset{icon, {ID: "p1.png", ContentType: "image/png", Data: []byte("p1")}, {ID: "p2.png", ContentType: "image/png", Data: []byte("p2")}} {
			if err := tx.PutAsset("i1", a); err != nil {
				return err
			}
		}
		// Assets are immutable: storing one again keeps the first.
		if err := tx.PutAsset("i1", &integrations.Asset{ID: "icon.png", ContentType: "image/png", Data: []byte("\x89PNG\x00\xff data")}); err != nil {
			return err
		}
		return tx.PutAsset("i2", &integrations.Asset{ID: "icon.png", ContentType: "image/gif", Data: []byte("GIF")})
	})
	sameJSON(t, "Asset", get(t, s, func(tx integrations.Tx) (*integrations.Asset, error) { return tx.Asset("one", "icon.png") }), icon)
	if a := get(t, s, func(tx integrations.Tx) (*integrations.Asset, error) { return tx.Asset("two", "icon.png") }); string(a.Data) != "GIF" {
		t.Errorf("asset of another integration: got %q", a.Data)
	}
	missing(t, s, "Asset", func(tx integrations.Tx) (*integrations.Asset, error) { return tx.Asset("one", "nope.png") })
	missing(t, s, "Asset of an unknown integration", func(tx integrations.Tx) (*integrations.Asset, error) { return tx.Asset("nope", "icon.png") })
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.PutAsset("nope", &integrations.Asset{ID: "x.png", ContentType: "image/png", Data: []byte("x")})
	})

	update(t, s, func(tx integrations.Tx) error { return tx.DeleteAssetsExcept("i1", []string{"icon.png", "p2.png"}) })
	missing(t, s, "deleted asset", func(tx integrations.Tx) (*integrations.Asset, error) { return tx.Asset("one", "p1.png") })
	get(t, s, func(tx integrations.Tx) (*integrations.Asset, error) { return tx.Asset("one", "p2.png") })
	update(t, s, func(tx integrations.Tx) error { return tx.DeleteAssetsExcept("i1", nil) })
	missing(t, s, "asset after deleting all", func(tx integrations.Tx) (*integrations.Asset, error) { return tx.Asset("one", "icon.png") })
	get(t, s, func(tx integrations.Tx) (*integrations.Asset, error) { return tx.Asset("two", "icon.png") })
}

// jsonNumber returns the number at key of a JSON object as written.
func jsonNumber(t testing.TB, raw json.RawMessage, key string) string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("configuration %s: %v", raw, err)
	}
	return fmt.Sprint(m[key])
}

func testInstallations(t *testing.T, s integrations.Store) {
	build(t, s, func(b builder) {
		b.org("acme", "Acme", t0)
		b.org("globex", "Globex", t0)
		b.space("s1", "acme", "One", t0)
		b.space("s2", "acme", "Two", t0)
		b.space("s3", "acme", "Three", t0)
		b.space("g1", "globex", "G", t0)
		slack := newIntegration("int-slack", "slack", "acme")
		slack.Title = "Slack Chat"
		b.integration(slack)
		mermaid := newIntegration("int-mermaid", "mermaid", "globex")
		mermaid.Title = "Diagrams 100%"
		b.integration(mermaid)
	})
	inst := &integrations.Installation{ID: "inst", IntegrationID: "int-slack", OrganizationID: "acme", Status: integrations.StatusPending,
		SpaceSelection: "selected", SiteSelection: "all", Configuration: json.RawMessage(`{"channel": "#docs", "big": 12345678901234567890, "nested": {"a": [1, true, null]}}`),
		ExternalIDs: []string{"T1", "T2"}, CreatedAt: at(1), UpdatedAt: at(2)}
	update(t, s, func(tx integrations.Tx) error { return tx.CreateInstallation(inst) })
	want := *inst
	want.IntegrationName = "slack"
	got := get(t, s, func(tx integrations.Tx) (*integrations.Installation, error) { return tx.Installation("inst") })
	sameJSON(t, "Installation", got, &want)
	if n := jsonNumber(t, got.Configuration, "big"); n != "12345678901234567890" {
		t.Errorf("configuration number: got %s, want 12345678901234567890", n)
	}
	sameJSON(t, "InstallationOf", get(t, s, func(tx integrations.Tx) (*integrations.Installation, error) {
		return tx.InstallationOf("int-slack", "acme")
	}), &want)
	missing(t, s, "Installation", func(tx integrations.Tx) (*integrations.Installation, error) { return tx.Installation("nope") })
	missing(t, s, "InstallationOf", func(tx integrations.Tx) (*integrations.Installation, error) {
		return tx.InstallationOf("int-slack", "globex")
	})

	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateInstallation(&integrations.Installation{ID: "inst", IntegrationID: "int-mermaid", OrganizationID: "globex", Status: integrations.StatusActive,
			SpaceSelection: "all", SiteSelection: "all", CreatedAt: t0, UpdatedAt: t0})
	})
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateInstallation(&integrations.Installation{ID: "inst2", IntegrationID: "int-slack", OrganizationID: "acme", Status: integrations.StatusActive,
			SpaceSelection: "all", SiteSelection: "all", CreatedAt: t0, UpdatedAt: t0})
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.CreateInstallation(&integrations.Installation{ID: "inst3", IntegrationID: "int-nope", OrganizationID: "acme", Status: integrations.StatusActive,
			SpaceSelection: "all", SiteSelection: "all", CreatedAt: t0, UpdatedAt: t0})
	})

	// Spaces counts the space installations while the selection is
	// "selected", every space of the organization with "all".
	build(t, s, func(b builder) {
		b.spaceInstallation("inst", "s1", integrations.StatusActive, t0)
		b.spaceInstallation("inst", "s2", integrations.StatusPaused, t0)
	})
	counted := func(tx integrations.Tx) (*integrations.Installation, error) {
		in, err := tx.Installation("inst")
		if err == nil {
			err = tx.CountInstallationSpaces(in)
		}
		return in, err
	}
	if n := get(t, s, counted).Spaces; n != 2 {
		t.Errorf("Spaces with selection selected: %d, want 2", n)
	}
	changed := &integrations.Installation{ID: "inst", IntegrationID: "int-slack", OrganizationID: "acme", Status: integrations.StatusPaused,
		SpaceSelection: "all", SiteSelection: "selected", Configuration: json.RawMessage(`{"channel":"#general"}`),
		ExternalIDs: []string{"T3"}, CreatedAt: at(1), UpdatedAt: at(7)}
	update(t, s, func(tx integrations.Tx) error { return tx.UpdateInstallation(changed) })
	want = *changed
	want.IntegrationName, want.Spaces = "slack", 3
	sameJSON(t, "updated installation", get(t, s, counted), &want)
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.UpdateInstallation(&integrations.Installation{ID: "nope", Status: integrations.StatusActive, SpaceSelection: "all", SiteSelection: "all"})
	})

	// Listing, by creation with ties broken by id.
	build(t, s, func(b builder) {
		b.installation("m-globex", "int-mermaid", "globex", integrations.StatusActive, "all", at(0))
		b.installation("b-acme", "int-mermaid", "acme", integrations.StatusActive, "all", at(1))
		in := b.installation("a-other", "int-slack", "globex", integrations.StatusActive, "all", at(5))
		in.ExternalIDs = []string{"T3", "X"}
		b.must(b.tx.UpdateInstallation(in))
	})
	installations := func(f integrations.InstallationFilter) listing[*integrations.Installation] {
		return listing[*integrations.Installation]{
			list: func(tx integrations.Tx, p integrations.Page) ([]*integrations.Installation, int, error) {
				return tx.Installations(f, p)
			},
			key: func(in *integrations.Installation) string { return in.ID },
			cursor: func(in *integrations.Installation) integrations.Cursor {
				return integrations.Cursor{At: in.CreatedAt.UnixMicro(), ID: in.ID}
			},
		}
	}
	tests := []struct {
		name   string
		filter integrations.InstallationFilter
		want   []string
	}{
		{"all", integrations.InstallationFilter{}, []string{"m-globex", "b-acme", "inst", "a-other"}},
		{"id", integrations.InstallationFilter{ID: "inst"}, []string{"inst"}},
		{"integration", integrations.InstallationFilter{IntegrationID: "int-slack"}, []string{"inst", "a-other"}},
		{"organization", integrations.InstallationFilter{OrganizationID: "acme"}, []string{"b-acme", "inst"}},
		{"integration and organization", integrations.InstallationFilter{IntegrationID: "int-mermaid", OrganizationID: "globex"}, []string{"m-globex"}},
		{"external id", integrations.InstallationFilter{ExternalID: "T3"}, []string{"inst", "a-other"}},
		{"replaced external id", integrations.InstallationFilter{ExternalID: "T1"}, nil},
		{"external id is not a prefix", integrations.InstallationFilter{ExternalID: "T"}, nil},
		{"search name, other case", integrations.InstallationFilter{Search: "SLA"}, []string{"inst", "a-other"}},
		{"search title", integrations.InstallationFilter{Search: "chat"}, []string{"inst", "a-other"}},
		{"search percent", integrations.InstallationFilter{Search: "%"}, []string{"m-globex", "b-acme"}},
		{"search and organization", integrations.InstallationFilter{Search: "diagrams", OrganizationID: "acme"}, []string{"b-acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkListing(t, s, installations(tt.filter), tt.want) })
	}

	for _, want := range []bool{true, false} {
		var existed bool
		update(t, s, func(tx integrations.Tx) (err error) {
			existed, err = tx.DeleteInstallation("inst")
			return err
		})
		if existed != want {
			t.Errorf("DeleteInstallation: got %v, want %v", existed, want)
		}
	}
	missing(t, s, "deleted installation", func(tx integrations.Tx) (*integrations.Installation, error) { return tx.Installation("inst") })
}

func testSpaceInstallations(t *testing.T, s integrations.Store) {
	build(t, s, func(b builder) {
		b.org("acme", "Acme", t0)
		b.org("globex", "Globex", t0)
		for _, id := range []string{"s1", "s2", "s3"} {
			b.space(id, "acme", id, t0)
		}
		b.space("g1", "globex", "G", t0)
		b.integration(newIntegration("int-slack", "slack", "acme"))
		b.integration(newIntegration("int-mermaid", "mermaid", "acme"))
		b.installation("slack-acme", "int-slack", "acme", integrations.StatusActive, "selected", t0)
		b.installation("mermaid-acme", "int-mermaid", "acme", integrations.StatusActive, "selected", t0)
		b.installation("slack-globex", "int-slack", "globex", integrations.StatusActive, "selected", t0)
	})
	si := &integrations.SpaceInstallation{InstallationID: "slack-acme", SpaceID: "s1", Status: integrations.StatusPending,
		Configuration: json.RawMessage(`{"path": "/docs", "n": 1.5}`), ExternalIDs: []string{"E1", "E2"}, CreatedAt: at(1), UpdatedAt: at(2)}
	update(t, s, func(tx integrations.Tx) error { return tx.CreateSpaceInstallation(si) })
	want := *si
	want.IntegrationID, want.IntegrationName, want.OrganizationID = "int-slack", "slack", "acme"
	sameJSON(t, "SpaceInstallation", get(t, s, func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
		return tx.SpaceInstallation("slack-acme", "s1")
	}), &want)
	missing(t, s, "SpaceInstallation", func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
		return tx.SpaceInstallation("slack-acme", "s2")
	})
	missing(t, s, "SpaceInstallation of another installation", func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
		return tx.SpaceInstallation("mermaid-acme", "s1")
	})

	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		return tx.CreateSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "slack-acme", SpaceID: "s1", Status: integrations.StatusActive, CreatedAt: t0, UpdatedAt: t0})
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.CreateSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "nope", SpaceID: "s1", Status: integrations.StatusActive, CreatedAt: t0, UpdatedAt: t0})
	})
	// AddSpaceInstallation leaves one that exists as it is.
	var added bool
	update(t, s, func(tx integrations.Tx) (err error) {
		added, err = tx.AddSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "slack-acme", SpaceID: "s1", Status: integrations.StatusActive,
			Configuration: json.RawMessage(`{}`), ExternalIDs: []string{"E9"}, CreatedAt: at(5), UpdatedAt: at(5)})
		return err
	})
	if added {
		t.Error("AddSpaceInstallation created a space installation that existed")
	}
	sameJSON(t, "SpaceInstallation after AddSpaceInstallation", get(t, s, func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
		return tx.SpaceInstallation("slack-acme", "s1")
	}), &want)
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		_, err := tx.AddSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "nope", SpaceID: "s1", Status: integrations.StatusActive, CreatedAt: t0, UpdatedAt: t0})
		return err
	})
	// One of a space that does not exist neither; and a transaction that
	// goes on without the error does not commit it either (a store may make
	// the transaction fail, as PostgreSQL's does without a foreign key).
	for _, add := range []func(tx integrations.Tx, si *integrations.SpaceInstallation) error{
		func(tx integrations.Tx, si *integrations.SpaceInstallation) error {
			return tx.CreateSpaceInstallation(si)
		},
		func(tx integrations.Tx, si *integrations.SpaceInstallation) error {
			_, err := tx.AddSpaceInstallation(si)
			return err
		},
	} {
		unknown := func() *integrations.SpaceInstallation {
			return &integrations.SpaceInstallation{InstallationID: "slack-acme", SpaceID: "nope", Status: integrations.StatusActive, CreatedAt: t0, UpdatedAt: t0}
		}
		failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error { return add(tx, unknown()) })
		err := s.Update(t.Context(), func(tx integrations.Tx) error {
			if err := add(tx, unknown()); integrations.ErrorCode(err) != integrations.ENOTFOUND {
				t.Errorf("a space installation on an unknown space: %v, want ENOTFOUND", err)
			}
			return nil
		})
		if err != nil && integrations.ErrorCode(err) != integrations.ENOTFOUND {
			t.Errorf("a transaction that went on without its error: %v, want none or ENOTFOUND", err)
		}
		missing(t, s, "space installation on an unknown space", func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
			return tx.SpaceInstallation("slack-acme", "nope")
		})
	}
	update(t, s, func(tx integrations.Tx) (err error) {
		added, err = tx.AddSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "mermaid-acme", SpaceID: "s2", Status: integrations.StatusActive,
			Configuration: json.RawMessage(`{}`), ExternalIDs: []string{"E8"}, CreatedAt: at(5), UpdatedAt: at(5)})
		return err
	})
	if !added {
		t.Error("AddSpaceInstallation did not create a new space installation")
	}
	if got := get(t, s, func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
		return tx.SpaceInstallation("mermaid-acme", "s2")
	}); got.ExternalIDs[0] != "E8" {
		t.Errorf("the added space installation reads as %+v", got)
	}
	update(t, s, func(tx integrations.Tx) error {
		si, err := tx.DeleteSpaceInstallation("mermaid-acme", "s2")
		if si == nil && err == nil {
			t.Error("the added space installation could not be deleted")
		}
		return err
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.CreateSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "slack-acme", SpaceID: "nope", Status: integrations.StatusActive, CreatedAt: t0, UpdatedAt: t0})
	})

	changed := &integrations.SpaceInstallation{InstallationID: "slack-acme", SpaceID: "s1", Status: integrations.StatusPaused,
		Configuration: json.RawMessage(`{}`), ExternalIDs: []string{"E3"}, CreatedAt: at(1), UpdatedAt: at(8)}
	update(t, s, func(tx integrations.Tx) error { return tx.UpdateSpaceInstallation(changed) })
	want = *changed
	want.IntegrationID, want.IntegrationName, want.OrganizationID = "int-slack", "slack", "acme"
	sameJSON(t, "updated SpaceInstallation", get(t, s, func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
		return tx.SpaceInstallation("slack-acme", "s1")
	}), &want)
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.UpdateSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "slack-acme", SpaceID: "s2", Status: integrations.StatusActive})
	})

	// Listing, by creation with ties broken by installation, then space.
	build(t, s, func(b builder) {
		b.spaceInstallation("slack-acme", "s3", integrations.StatusActive, at(3))
		b.spaceInstallation("slack-acme", "s2", integrations.StatusActive, at(3))
		b.spaceInstallation("mermaid-acme", "s3", integrations.StatusActive, at(3))
		si := b.spaceInstallation("mermaid-acme", "s1", integrations.StatusActive, at(0))
		si.ExternalIDs = []string{"E3"}
		b.must(b.tx.UpdateSpaceInstallation(si))
		b.spaceInstallation("slack-globex", "g1", integrations.StatusActive, at(9))
	})
	key := func(si *integrations.SpaceInstallation) string { return si.InstallationID + "/" + si.SpaceID }
	spaceInstallations := func(f integrations.SpaceInstallationFilter) listing[*integrations.SpaceInstallation] {
		return listing[*integrations.SpaceInstallation]{
			list: func(tx integrations.Tx, p integrations.Page) ([]*integrations.SpaceInstallation, int, error) {
				return tx.SpaceInstallations(f, p)
			},
			key: key,
			cursor: func(si *integrations.SpaceInstallation) integrations.Cursor {
				return integrations.Cursor{At: si.CreatedAt.UnixMicro(), ID: key(si)}
			},
		}
	}
	tests := []struct {
		name   string
		filter integrations.SpaceInstallationFilter
		want   []string
	}{
		{"all", integrations.SpaceInstallationFilter{}, []string{"mermaid-acme/s1", "slack-acme/s1", "mermaid-acme/s3", "slack-acme/s2", "slack-acme/s3", "slack-globex/g1"}},
		{"organization", integrations.SpaceInstallationFilter{OrganizationID: "globex"}, []string{"slack-globex/g1"}},
		{"integration", integrations.SpaceInstallationFilter{IntegrationID: "int-slack"}, []string{"slack-acme/s1", "slack-acme/s2", "slack-acme/s3", "slack-globex/g1"}},
		{"installation", integrations.SpaceInstallationFilter{InstallationID: "mermaid-acme"}, []string{"mermaid-acme/s1", "mermaid-acme/s3"}},
		{"space", integrations.SpaceInstallationFilter{SpaceID: "s3"}, []string{"mermaid-acme/s3", "slack-acme/s3"}},
		{"external id", integrations.SpaceInstallationFilter{ExternalID: "E3"}, []string{"mermaid-acme/s1", "slack-acme/s1"}},
		{"replaced external id", integrations.SpaceInstallationFilter{ExternalID: "E1"}, nil},
		{"integration and organization", integrations.SpaceInstallationFilter{IntegrationID: "int-slack", OrganizationID: "acme"}, []string{"slack-acme/s1", "slack-acme/s2", "slack-acme/s3"}},
		{"installation and space", integrations.SpaceInstallationFilter{InstallationID: "slack-acme", SpaceID: "s2"}, []string{"slack-acme/s2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkListing(t, s, spaceInstallations(tt.filter), tt.want) })
	}

	was := get(t, s, func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
		return tx.SpaceInstallation("slack-acme", "s1")
	})
	was.IntegrationID, was.IntegrationName, was.OrganizationID = "", "", "" // what reads fill in
	for _, want := range []bool{true, false} {
		var deleted *integrations.SpaceInstallation
		update(t, s, func(tx integrations.Tx) (err error) {
			deleted, err = tx.DeleteSpaceInstallation("slack-acme", "s1")
			return err
		})
		if (deleted != nil) != want {
			t.Errorf("DeleteSpaceInstallation: got %+v, want one: %v", deleted, want)
		}
		if want && deleted != nil {
			sameJSON(t, "the deleted space installation", deleted, was)
		}
	}
	missing(t, s, "deleted space installation", func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
		return tx.SpaceInstallation("slack-acme", "s1")
	})
}

func testSpaceIntegrations(t *testing.T, s integrations.Store) {
	const (
		active  = integrations.StatusActive
		pending = integrations.StatusPending
		paused  = integrations.StatusPaused
	)
	build(t, s, func(b builder) {
		b.org("acme", "Acme", t0)
		b.org("globex", "Globex", t0)
		b.space("hb", "acme", "Handbook", t0)
		b.space("blog", "acme", "Blog", t0)
		b.space("sec", "globex", "Secret", t0)
		type space struct {
			id     string
			status integrations.Status
		}
		for n, tt := range []struct {
			name      string
			org       string
			status    integrations.Status
			selection string
			spaces    []space
		}{
			{"selected", "acme", active, "selected", []space{{"hb", active}}},
			{"all", "acme", active, "all", nil},
			{"all-but-paused-blog", "acme", active, "all", []space{{"blog", paused}}},
			{"all-pending-blog", "acme", active, "all", []space{{"blog", pending}}},
			{"paused", "acme", paused, "all", nil},
			{"paused-selected", "acme", paused, "selected", []space{{"hb", active}}},
			{"paused-space", "acme", active, "selected", []space{{"hb", paused}}},
			{"pending", "acme", pending, "all", nil},
			{"pending-space", "acme", active, "selected", []space{{"hb", pending}}},
			{"selected-none", "acme", active, "selected", nil},
			{"other-org", "globex", active, "all", nil},
			// A space installation of globex's installation on acme's space
			// does not enable it there.
			{"cross-org", "globex", active, "selected", []space{{"hb", active}}},
		} {
			i := newIntegration(fmt.Sprintf("i%02d", n), tt.name, "globex")
			i.Visibility = "private" // listed wherever enabled, whatever its visibility
			if tt.name == "selected" {
				i.Title = "Sélection"
				i.Blocks = []integrations.Block{{ID: "b", Title: "Block"}}
			}
			b.integration(i)
			inst := b.installation(tt.name+"-"+tt.org, i.ID, tt.org, tt.status, tt.selection, t0)
			for _, sp := range tt.spaces {
				b.spaceInstallation(inst.ID, sp.id, sp.status, t0)
			}
		}
		// Installed on both organizations: listed once.
		b.integration(newIntegration("i-both", "both", "acme"))
		b.installation("both-acme", "i-both", "acme", active, "all", t0)
		b.installation("both-globex", "i-both", "globex", active, "all", t0)
		b.integration(newIntegration("i-none", "not-installed", "acme"))
	})
	spaceIntegrations := func(spaceID string, f integrations.IntegrationFilter) listing[*integrations.Integration] {
		return listing[*integrations.Integration]{
			list: func(tx integrations.Tx, p integrations.Page) ([]*integrations.Integration, int, error) {
				list, total, err := tx.SpaceIntegrations(spaceID, f, p)
				for _, i := range list {
					if i.Owner == nil || i.Owner.ID != i.OrganizationID {
						return nil, 0, fmt.Errorf("integration %s: owner not filled in: %+v", i.Name, i.Owner)
					}
				}
				return list, total, err
			},
			key: func(i *integrations.Integration) string { return i.Name },
			cursor: func(i *integrations.Integration) integrations.Cursor {
				return integrations.Cursor{Key: i.Name, ID: i.ID}
			},
		}
	}
	yes := true
	tests := []struct {
		name, space string
		filter      integrations.IntegrationFilter
		want        []string
	}{
		{"handbook", "hb", integrations.IntegrationFilter{}, []string{"all", "all-but-paused-blog", "all-pending-blog", "both", "pending", "pending-space", "selected"}},
		{"blog", "blog", integrations.IntegrationFilter{}, []string{"all", "all-pending-blog", "both", "pending"}},
		{"other organization's space", "sec", integrations.IntegrationFilter{}, []string{"both", "other-org"}},
		{"unknown space", "nope", integrations.IntegrationFilter{}, nil},
		{"search name, other case", "hb", integrations.IntegrationFilter{Search: "PENDING"}, []string{"all-pending-blog", "pending", "pending-space"}},
		{"search title, non-ASCII", "hb", integrations.IntegrationFilter{Search: "SÉL"}, []string{"selected"}},
		{"search underscore", "hb", integrations.IntegrationFilter{Search: "_"}, nil},
		{"other filters apply", "hb", integrations.IntegrationFilter{Blocks: &yes}, []string{"selected"}},
		{"owner", "hb", integrations.IntegrationFilter{Owner: "acme"}, []string{"both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkListing(t, s, spaceIntegrations(tt.space, tt.filter), tt.want) })
	}
}

// testCascades deletes one object from a world of two integrations, each
// installed with tokens and assets, and checks what goes with it and what
// stays.
func testCascades(t *testing.T, open func(testing.TB) integrations.Store) {
	world := func(t *testing.T) integrations.Store {
		s := open(t)
		build(t, s, func(b builder) {
			b.user("alice", "Alice", "", t0)
			b.token("alice-token", integrations.Token{Kind: integrations.TokenUser, UserID: "alice"})
			b.org("acme", "Acme", t0)
			b.space("hb", "acme", "Handbook", t0)
			b.space("blog", "acme", "Blog", t0)
			for _, name := range []string{"slack", "mermaid"} {
				b.integration(newIntegration("int-"+name, name, "acme"))
				b.must(b.tx.PutAsset("int-"+name, &integrations.Asset{ID: "icon.png", ContentType: "image/png", Data: []byte(name)}))
				b.token(name+"-token", integrations.Token{Kind: integrations.TokenIntegration, IntegrationID: "int-" + name})
				b.installation(name+"-acme", "int-"+name, "acme", integrations.StatusActive, "selected", t0)
				b.token(name+"-acme-token", integrations.Token{Kind: integrations.TokenInstallation, IntegrationID: "int-" + name, InstallationID: name + "-acme"})
				b.spaceInstallation(name+"-acme", "hb", integrations.StatusActive, t0)
				b.spaceInstallation(name+"-acme", "blog", integrations.StatusActive, t0)
			}
		})
		return s
	}
	probes := map[string]func(tx integrations.Tx) error{
		"alice's token": func(tx integrations.Tx) error { _, err := tx.Token(integrations.HashToken("alice-token")); return err },
		"space blog":    func(tx integrations.Tx) error { _, err := tx.Space("blog"); return err },
	}
	for _, name := range []string{"slack", "mermaid"} {
		probes[name] = func(tx integrations.Tx) error { _, err := tx.Integration(name); return err }
		probes[name+" icon"] = func(tx integrations.Tx) error { _, err := tx.Asset(name, "icon.png"); return err }
		probes[name+" token"] = func(tx integrations.Tx) error {
			_, err := tx.Token(integrations.HashToken(name + "-token"))
			return err
		}
		probes[name+" installation"] = func(tx integrations.Tx) error { _, err := tx.Installation(name + "-acme"); return err }
		probes[name+" installation token"] = func(tx integrations.Tx) error {
			_, err := tx.Token(integrations.HashToken(name + "-acme-token"))
			return err
		}
		for _, space := range []string{"hb", "blog"} {
			probes[name+" on "+space] = func(tx integrations.Tx) error { _, err := tx.SpaceInstallation(name+"-acme", space); return err }
		}
	}
	tests := []struct {
		name   string
		delete func(tx integrations.Tx) (bool, error)
		gone   []string
	}{
		{"integration", func(tx integrations.Tx) (bool, error) { return tx.DeleteIntegration("int-slack") },
			[]string{"slack", "slack icon", "slack token", "slack installation", "slack installation token", "slack on hb", "slack on blog"}},
		{"installation", func(tx integrations.Tx) (bool, error) { return tx.DeleteInstallation("slack-acme") },
			[]string{"slack installation", "slack installation token", "slack on hb", "slack on blog"}},
		{"space", func(tx integrations.Tx) (bool, error) { return tx.DeleteSpace("blog") },
			[]string{"space blog", "slack on blog", "mermaid on blog"}},
		{"space installation", func(tx integrations.Tx) (bool, error) {
			si, err := tx.DeleteSpaceInstallation("slack-acme", "blog")
			return si != nil, err
		},
			[]string{"slack on blog"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := world(t)
			update(t, s, func(tx integrations.Tx) error {
				ok, err := tt.delete(tx)
				if err == nil && !ok {
					err = errors.New("nothing was deleted")
				}
				return err
			})
			gone := map[string]bool{}
			for _, g := range tt.gone {
				gone[g] = true
			}
			for probe, lookup := range probes {
				err := s.View(t.Context(), lookup)
				if gone[probe] {
					wantCode(t, err, integrations.ENOTFOUND)
				} else if err != nil {
					t.Errorf("%s: %v, want it kept", probe, err)
				}
			}
			// Listings agree with lookups.
			view(t, s, func(tx integrations.Tx) error {
				_, n, err := tx.SpaceInstallations(integrations.SpaceInstallationFilter{IntegrationID: "int-slack"}, integrations.Page{Limit: 10})
				want := 2
				for _, g := range tt.gone {
					if strings.HasPrefix(g, "slack on") {
						want--
					}
				}
				if n != want {
					t.Errorf("slack's space installations: %d, want %d", n, want)
				}
				return err
			})
		})
	}
}

// testTimestamps stores a time with nanoseconds in another time zone in
// every time field and reads back the same instant to the microsecond, in UTC.
func testTimestamps(t *testing.T, s integrations.Store) {
	odd := time.Date(2023, 12, 31, 23, 59, 58, 123456789, time.FixedZone("UTC+5:30", 5*3600+1800))
	want := odd.Truncate(time.Microsecond)
	build(t, s, func(b builder) {
		b.user("u", "U", "", odd)
		b.token("tok", integrations.Token{Kind: integrations.TokenUser, UserID: "u", ExpiresAt: odd, CreatedAt: odd})
		b.org("acme", "Acme", odd)
		b.member("acme", "u", integrations.RoleAdmin, odd)
		b.space("s", "acme", "S", odd)
		i := newIntegration("i", "i", "acme")
		i.CreatedAt, i.UpdatedAt = odd, odd
		b.integration(i)
		b.installation("inst", "i", "acme", integrations.StatusActive, "selected", odd)
		b.spaceInstallation("inst", "s", integrations.StatusActive, odd)
	})
	var times map[string]time.Time
	view(t, s, func(tx integrations.Tx) error {
		u, err1 := tx.User("u")
		tok, err2 := tx.Token(integrations.HashToken("tok"))
		o, err3 := tx.Organization("acme")
		m, err4 := tx.Member("acme", "u")
		sp, err5 := tx.Space("s")
		i, err6 := tx.Integration("i")
		in, err7 := tx.Installation("inst")
		si, err8 := tx.SpaceInstallation("inst", "s")
		if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8); err != nil {
			return err
		}
		times = map[string]time.Time{
			"user created": u.CreatedAt, "token created": tok.CreatedAt, "token expires": tok.ExpiresAt,
			"organization created": o.CreatedAt, "member joined": m.JoinedAt, "member's user created": m.User.CreatedAt,
			"space created": sp.CreatedAt, "space updated": sp.UpdatedAt,
			"integration created": i.CreatedAt, "integration updated": i.UpdatedAt, "owner created": i.Owner.CreatedAt,
			"installation created": in.CreatedAt, "installation updated": in.UpdatedAt,
			"space installation created": si.CreatedAt, "space installation updated": si.UpdatedAt,
		}
		return nil
	})
	for field, got := range times {
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: got %v, want %v in UTC", field, got, want.UTC())
		}
	}
}

func testNow(t *testing.T, s integrations.Store) {
	check := func(name string, run func(func(tx integrations.Tx) error) error) {
		before := time.Now().Truncate(time.Microsecond)
		var first, second time.Time
		if err := run(func(tx integrations.Tx) error {
			first = tx.Now()
			second = tx.Now()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		if first.Location() != time.UTC || !first.Equal(first.Truncate(time.Microsecond)) {
			t.Errorf("%s: Now() = %v, want UTC to the microsecond", name, first)
		}
		if first.Before(before) || first.After(after) {
			t.Errorf("%s: Now() = %v, want between %v and %v", name, first, before, after)
		}
		if !second.Equal(first) {
			t.Errorf("%s: Now() changed within a transaction: %v then %v", name, first, second)
		}
	}
	check("Update", func(fn func(tx integrations.Tx) error) error { return s.Update(t.Context(), fn) })
	check("View", func(fn func(tx integrations.Tx) error) error { return s.View(t.Context(), fn) })
}

func testTransactions(t *testing.T, s integrations.Store) {
	build(t, s, func(b builder) { b.org("acme", "Acme", t0) })
	unchanged := func(t *testing.T) {
		t.Helper()
		missing(t, s, "user", func(tx integrations.Tx) (*integrations.User, error) { return tx.User("u") })
		missing(t, s, "space", func(tx integrations.Tx) (*integrations.Space, error) { return tx.Space("s") })
		if o := get(t, s, func(tx integrations.Tx) (*integrations.Organization, error) { return tx.Organization("acme") }); o.Title != "Acme" {
			t.Errorf("organization title %q, want Acme", o.Title)
		}
		if v := get(t, s, func(tx integrations.Tx) (string, error) { return tx.Setting("k") }); v != "" {
			t.Errorf("setting k = %q, want none", v)
		}
	}
	writes := func(t *testing.T, tx integrations.Tx) error {
		b := builder{t, tx}
		b.user("u", "U", "u@example.com", t0)
		b.space("s", "acme", "S", t0)
		b.must(tx.UpdateOrganization(&integrations.Organization{ID: "acme", Title: "Changed", EmailDomains: []string{}}))
		_, err := tx.InitSetting("k", "v")
		return err
	}

	t.Run("Update rolls back on an error", func(t *testing.T) {
		boom := errors.New("boom")
		err := s.Update(t.Context(), func(tx integrations.Tx) error {
			if err := writes(t, tx); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("Update returned %v, want fn's error", err)
		}
		unchanged(t)
	})
	t.Run("Update passes application errors through", func(t *testing.T) {
		err := s.Update(t.Context(), func(tx integrations.Tx) error {
			if err := writes(t, tx); err != nil {
				return err
			}
			return integrations.Errorf(integrations.EFORBIDDEN, "no")
		})
		wantCode(t, err, integrations.EFORBIDDEN)
		if msg := integrations.ErrorMessage(err); msg != "no" {
			t.Errorf("message %q, want no", msg)
		}
		unchanged(t)
	})
	t.Run("Update rolls back on a panic", func(t *testing.T) {
		func() {
			defer func() {
				if p := recover(); p != "boom" {
					t.Errorf("recovered %v, want the panic of fn", p)
				}
			}()
			s.Update(t.Context(), func(tx integrations.Tx) error {
				writes(t, tx)
				panic("boom")
			})
		}()
		unchanged(t)
		// The store stays usable; a leaked transaction would block this.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := s.Update(ctx, func(tx integrations.Tx) error { _, err := tx.InitSetting("after-panic", "x"); return err }); err != nil {
			t.Errorf("Update after a panic: %v", err)
		}
	})
	t.Run("View cannot write", func(t *testing.T) {
		attempts := map[string]func(tx integrations.Tx) error{
			"CreateUser": func(tx integrations.Tx) error {
				return tx.CreateUser(&integrations.User{ID: "u", DisplayName: "U", CreatedAt: t0})
			},
			"InitSetting": func(tx integrations.Tx) error { _, err := tx.InitSetting("k", "v"); return err },
			"UpdateOrganization": func(tx integrations.Tx) error {
				return tx.UpdateOrganization(&integrations.Organization{ID: "acme", Title: "Changed", EmailDomains: []string{}})
			},
		}
		for name, attempt := range attempts {
			if err := s.View(t.Context(), attempt); err == nil {
				t.Errorf("%s in View succeeded, want an error", name)
			}
		}
		unchanged(t)
	})
}
