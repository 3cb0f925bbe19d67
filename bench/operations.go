package bench

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
)

// operation is one kind of load.
type operation struct {
	name string
	unit string // what a step counts as: requests, pairs or tokens
	// requests are the distinct requests of the load.
	requests []request
	// steps returns, for the requests serialized for one server, what each
	// connection sends next, with the statuses that count as successes.
	steps func(wires [][]byte, connections int) func(worker, n int) (step, []int)
	// cycle, when not 0, is how many distinct steps each connection cycles
	// through (the pairs' slots): a first pass over them, before the
	// measure, warms what the server caches of each.
	cycle int
}

// randomSteps sends one request at a time, drawn at random.
func randomSteps(want int) func(wires [][]byte, connections int) func(worker, n int) (step, []int) {
	return func(wires [][]byte, connections int) func(worker, n int) (step, []int) {
		steps := make([]step, len(wires))
		for n, w := range wires {
			steps[n] = step{w}
		}
		rngs := make([]*rand.Rand, connections)
		for w := range rngs {
			rngs[w] = rand.New(rand.NewPCG(uint64(w), 42))
		}
		wants := []int{want}
		return func(worker, _ int) (step, []int) {
			return steps[rngs[worker].IntN(len(steps))], wants
		}
	}
}

// pool draws up to n distinct requests with make, which may repeat itself.
func pool(n int, r *rand.Rand, make func(r *rand.Rand) request) []request {
	seen := map[string]bool{}
	var out []request
	for tries := 0; len(out) < n && tries < 4*n; tries++ {
		req := make(r)
		if key := answerKey(req.method, req.uri, req.token); !seen[key] {
			seen[key] = true
			out = append(out, req)
		}
	}
	return out
}

// member returns the token of a random member of a space's organization.
func (w *world) member(r *rand.Rand, space int) string {
	users := w.orgUsers[w.spaceOrg[space]]
	return w.userSecrets[users[r.IntN(len(users))]]
}

// readOperations returns the reads of the load, n distinct requests each:
// what GitBook's editor asks when a space opens, spread over the spaces and
// the members of their organizations.
func (w *world) readOperations(n int) []operation {
	r := rand.New(rand.NewPCG(7, 7))
	d := w.dataset
	spaces := len(d.Spaces)
	var visible []int // integrations that every user may read by name
	for i := range d.Integrations {
		if d.Integrations[i].Visibility != "private" {
			visible = append(visible, i)
		}
	}
	return []operation{
		{name: "listSpaceIntegrations", unit: "requests", steps: randomSteps(200), requests: pool(n, r, func(r *rand.Rand) request {
			s := r.IntN(spaces)
			return request{method: "GET", uri: "/v1/spaces/" + d.Spaces[s].ID + "/integrations", token: w.member(r, s), want: 200}
		})},
		{name: "listSpaceIntegrations-search", unit: "requests", steps: randomSteps(200), requests: pool(n, r, func(r *rand.Rand) request {
			s := r.IntN(spaces)
			// A few letters of one of the enabled integrations' titles.
			title := d.Integrations[pick(r, w.enabled[s])].Title
			term := strings.ToLower(title[:min(len(title), 2+r.IntN(4))])
			return request{method: "GET", uri: "/v1/spaces/" + d.Spaces[s].ID + "/integrations?search=" + url.QueryEscape(term), token: w.member(r, s), want: 200}
		})},
		{name: "listSpaceIntegrationsBlocks", unit: "requests", steps: randomSteps(200), requests: pool(n, r, func(r *rand.Rand) request {
			s := r.IntN(spaces)
			return request{method: "GET", uri: "/v1/spaces/" + d.Spaces[s].ID + "/integration-blocks", token: w.member(r, s), want: 200}
		})},
		{name: "getIntegrationByName", unit: "requests", steps: randomSteps(200), requests: pool(n, r, func(r *rand.Rand) request {
			i := pick(r, visible)
			return request{method: "GET", uri: "/v1/integrations/" + d.Integrations[i].Name, token: w.userSecrets[r.IntN(len(w.userSecrets))], want: 200}
		})},
	}
}

// tokenOperation creates installation tokens with the integrations' own
// tokens, as an integration does before it calls the API for an
// installation.
func (w *world) tokenOperation(n int) operation {
	r := rand.New(rand.NewPCG(8, 8))
	d := w.dataset
	byID := map[string]int{}
	for i := range d.Integrations {
		byID[d.Integrations[i].ID] = i
	}
	return operation{name: "createIntegrationInstallationToken", unit: "tokens", steps: randomSteps(200),
		requests: pool(n, r, func(r *rand.Rand) request {
			in := &d.Installations[r.IntN(len(d.Installations))]
			i := byID[in.IntegrationID]
			return request{method: "POST", uri: fmt.Sprintf("/v1/integrations/%s/installations/%s/tokens", d.Integrations[i].Name, in.ID),
				token: w.integrationSecrets[i], want: 200}
		})}
}

// pairRequests returns the enable-then-disable pair of each slot, by the
// admin of the space's organization: installIntegrationOnSpace (201) and
// uninstallIntegrationFromSpace (205).
func (w *world) pairRequests(slots []slot) []request {
	d := w.dataset
	byID := map[string]int{}
	for i := range d.Integrations {
		byID[d.Integrations[i].ID] = i
	}
	out := make([]request, 0, 2*len(slots))
	for _, s := range slots {
		in := &d.Installations[s.installation]
		space := d.Spaces[s.space].ID
		name := d.Integrations[byID[in.IntegrationID]].Name
		admin := w.userSecrets[w.orgUsers[w.spaceOrg[s.space]][0]]
		base := fmt.Sprintf("/v1/integrations/%s/installations/%s/spaces", name, in.ID)
		out = append(out,
			request{method: "POST", uri: base, token: admin, body: []byte(`{"space":"` + space + `"}`), want: 201},
			request{method: "DELETE", uri: base + "/" + space, token: admin, want: 205})
	}
	return out
}

// pairOperation enables an integration on a space and disables it again,
// as a user does in GitBook's editor. Each connection has slots of its own,
// so that no two pairs race on the same space installation.
func (w *world) pairOperation(connections int) operation {
	slots := w.pairSlots(connections)
	return operation{name: "enable-disable-pair", unit: "pairs", requests: w.pairRequests(slots), steps: pairSteps,
		cycle: max(1, len(slots)/connections)}
}

// pairSlots are the slots of the pair load: 64 per connection.
func (w *world) pairSlots(connections int) []slot {
	return w.free[:min(len(w.free), connections*64)]
}

// pairSteps cycles each connection through its own slots; the requests
// come in pairs.
func pairSteps(wires [][]byte, connections int) func(worker, n int) (step, []int) {
	slots := len(wires) / 2
	want := []int{201, 205}
	return func(worker, n int) (step, []int) {
		var s int
		if slots >= connections {
			perWorker := slots / connections
			s = worker + connections*(n%perWorker)
		} else {
			s = worker % slots // too few slots: connections share them, and may collide
		}
		return step{wires[2*s], wires[2*s+1]}, want
	}
}
