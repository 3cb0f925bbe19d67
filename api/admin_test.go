package api_test

import (
	"context"
	"testing"

	"integrations"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

// TestAdminTokenRotation checks that the admin token given at start is the
// staff user's only token: starting with another one retires the old one at
// once, even for a caller the server has cached, and starting without one
// keeps the current one.
func TestAdminTokenRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		ctx := context.Background()
		var staff struct{ ID string }
		e.Expect(200, "GET", "/v1/user", apitest.AdminToken, nil).JSON(t, &staff)

		previous := apitest.AdminToken
		for _, next := range []string{"rotated-admin-1", "rotated-admin-2"} {
			e.Expect(200, "GET", "/v1/orgs", previous, nil) // cached as a caller
			if created, err := e.Svc.EnsureAdmin(ctx, next); err != nil || created != "" {
				t.Fatalf("EnsureAdmin(%q): %q, %v", next, created, err)
			}
			var u struct{ ID string }
			e.Expect(200, "GET", "/v1/user", next, nil).JSON(t, &u)
			if u.ID != staff.ID {
				t.Errorf("%s is the token of %q, not of the staff user %q", next, u.ID, staff.ID)
			}
			e.Expect(201, "POST", "/admin/users", next, map[string]string{"displayName": "By " + next, "email": next + "@example.com"})
			e.Expect(401, "GET", "/v1/user", previous, nil)
			e.Expect(401, "POST", "/admin/users", previous, map[string]string{"displayName": "Old", "email": "old-" + next + "@example.com"})
			previous = next
		}

		// The same token again, or none, changes nothing.
		for _, again := range []string{"rotated-admin-2", ""} {
			if created, err := e.Svc.EnsureAdmin(ctx, again); err != nil || created != "" {
				t.Fatalf("EnsureAdmin(%q): %q, %v", again, created, err)
			}
			e.Expect(200, "GET", "/v1/user", "rotated-admin-2", nil)
		}
		// Other users keep their tokens, and cannot become the admin's.
		e.Expect(200, "GET", "/v1/user", "alice-token", nil)
		if _, err := e.Svc.EnsureAdmin(ctx, "alice-token"); integrations.ErrorCode(err) != integrations.ECONFLICT {
			t.Errorf("the token of another user as the admin token: %v", err)
		}
		e.Expect(200, "GET", "/v1/user", "alice-token", nil)
		e.Expect(200, "GET", "/v1/user", "rotated-admin-2", nil)
	})
}
