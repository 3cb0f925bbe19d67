package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"integrations/internal/apitest"
	"integrations/internal/crashtest"
)

// concurrencyWorld has two organizations with three spaces each; every
// integration of the test is published and unpublished by the goroutines.
const concurrencyWorld = `
users:
  - {id: ca, displayName: A, email: a@conc.test, tokens: [conc-a]}
  - {id: cb, displayName: B, email: b@conc.test, tokens: [conc-b]}
organizations:
  - {id: ca-org, title: Org A, members: [{user: ca, role: admin}]}
  - {id: cb-org, title: Org B, members: [{user: cb, role: admin}]}
spaces:
  - {id: ca-1, organization: ca-org, title: One}
  - {id: ca-2, organization: ca-org, title: Two}
  - {id: ca-3, organization: ca-org, title: Three}
  - {id: cb-1, organization: cb-org, title: One}
  - {id: cb-2, organization: cb-org, title: Two}
  - {id: cb-3, organization: cb-org, title: Three}
`

// concurrencyOps are the writes the goroutines mix, with the statuses each
// may answer while others write: what it needs may be gone (404), and
// what it removes may be gone already (204).
var concurrencyOps = []struct {
	name   string
	ok     []int
	weight int // how often it comes, against the others
}{
	{"publish", []int{200}, 2},
	{"install", []int{201, 404}, 3},
	{"enable", []int{201, 404}, 5},
	{"configure", []int{200, 404}, 5},
	{"select all", []int{200, 404}, 1},
	{"disable", []int{204, 205}, 2},
	{"uninstall", []int{204, 205}, 1},
	{"unpublish", []int{204, 205}, 1},
}

// TestConcurrentWrites runs publish, install, enable, configure, disable,
// uninstall and unpublish from many goroutines on the same few objects, then
// checks that no request failed with a 5xx or an unexpected status and that
// the store's invariants hold (crashtest.Check and crashtest.CheckEvents):
// no space installation without its installation, no orphan row through any
// foreign key, the seed endpoints agree with the installation records.
func TestConcurrentWrites(t *testing.T) {
	crashtest.Each(t, func(t *testing.T, db *crashtest.DB) {
		e := apitest.New(t, db.Store)
		e.Seed(concurrencyWorld)
		orgs := []struct{ id, token string }{{"ca-org", "conc-a"}, {"cb-org", "conc-b"}}
		names := []string{"conc-0", "conc-1", "conc-2"}
		const goroutines, ops = 12, 40
		total := 0
		for _, op := range concurrencyOps {
			total += op.weight
		}
		var wg sync.WaitGroup
		// First every operation succeeds at least once: one goroutine per
		// integration runs its whole life cycle on both organizations, at
		// the same time as the others.
		for _, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, org := range orgs {
					for n, op := range concurrencyOps {
						status, body := concurrentWrite(t, e, op.name, name, org.id, org.token, org.id[:2]+"-1", n)
						if status != 200 && status != 201 && status != 205 {
							t.Errorf("life cycle of %s on %s: %s answered %d: %s", name, org.id, op.name, status, body)
						}
					}
				}
			}()
		}
		wg.Wait()
		// Then a random mix on the same few objects.
		var mu sync.Mutex
		done := map[string]int{} // operations that changed something (200, 201, 205)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 7))
				for range ops {
					pick, op := r.IntN(total), concurrencyOps[0]
					for _, o := range concurrencyOps {
						if op = o; pick < o.weight {
							break
						}
						pick -= o.weight
					}
					name := names[r.IntN(len(names))]
					org := orgs[r.IntN(len(orgs))]
					space := fmt.Sprintf("%s-%d", org.id[:2], 1+r.IntN(3))
					status, body := concurrentWrite(t, e, op.name, name, org.id, org.token, space, r.IntN(100))
					ok := false
					for _, s := range op.ok {
						ok = ok || s == status
					}
					if !ok {
						t.Errorf("%s %s on %s/%s: status %d: %s", op.name, name, org.id, space, status, body)
					}
					if status == 200 || status == 201 || status == 205 {
						mu.Lock()
						done[op.name]++
						mu.Unlock()
					}
					if status >= 400 {
						if err := errorShape(status, body); err != nil {
							t.Errorf("%s %s: %v", op.name, name, err)
						}
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("operations of the mix that changed something: %v", done)
		crashtest.Check(t, e, db)
		crashtest.CheckEvents(t, db)
	})
}

// concurrentWrite makes one write of the mix. Steps that find what they
// need gone answer the status of the step that failed.
func concurrentWrite(t *testing.T, e *apitest.Env, op, name, org, token, space string, n int) (int, []byte) {
	integration := "/v1/integrations/" + name
	// The installation of name on org, if any.
	installation := func() (string, int, []byte) {
		status, body := sendAny(t, e, "GET", "/v1/orgs/"+org+"/installations?search="+url.QueryEscape(name), token, nil)
		if status != 200 {
			return "", status, body
		}
		var list struct {
			Items []struct {
				Installation struct{ ID string }
				Integration  struct{ Name string }
			}
		}
		json.Unmarshal(body, &list)
		for _, i := range list.Items {
			if i.Integration.Name == name {
				return i.Installation.ID, 200, nil
			}
		}
		return "", 404, []byte(`{"error":{"code":404,"message":"not installed"}}`)
	}
	switch op {
	case "publish": // by ca-org's admin, for ca-org; any organization installs it
		return sendAny(t, e, "POST", integration, "conc-a", map[string]any{"organization": "ca-org", "title": "Conc " + name,
			"description": "d", "script": "export default {};", "scopes": []string{"space:content:read"}, "visibility": "public",
			"blocks": []map[string]string{{"id": "b", "title": "Block"}}})
	case "install":
		return sendAny(t, e, "POST", integration+"/installations", token, map[string]string{"organization": org})
	case "unpublish":
		return sendAny(t, e, "DELETE", integration, "conc-a", nil)
	}
	id, status, body := installation()
	if id == "" {
		if status == 404 && (op == "disable" || op == "uninstall") {
			return 204, nil // nothing to remove: as the API answers
		}
		return status, body
	}
	base := integration + "/installations/" + id
	switch op {
	case "enable":
		return sendAny(t, e, "POST", base+"/spaces", token, map[string]string{"space": space})
	case "configure":
		return sendAny(t, e, "PATCH", base+"/spaces/"+space, token, map[string]any{"configuration": map[string]int{"n": n}})
	case "disable":
		return sendAny(t, e, "DELETE", base+"/spaces/"+space, token, nil)
	case "uninstall":
		return sendAny(t, e, "DELETE", base, token, nil)
	case "select all":
		selection := "all"
		if n%2 == 0 {
			selection = "selected"
		}
		return sendAny(t, e, "PATCH", base, token, map[string]string{"space_selection": selection})
	}
	t.Errorf("unknown operation %s", op)
	return 0, nil
}

// sendAny sends a request from any goroutine (e.Do may stop the test, which
// only the test's goroutine may do) and returns the status and body.
func sendAny(t *testing.T, e *apitest.Env, method, path, token string, body any) (int, []byte) {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, r)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := e.Server.Client().Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Error(err)
	}
	return res.StatusCode, data
}
