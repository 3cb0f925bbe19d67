package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"integrations"
)

// Scale is the size of the seeded database.
type Scale struct {
	Name            string `json:"name"`
	Organizations   int    `json:"organizations"`
	SpacesPerOrg    int    `json:"spacesPerOrganization"`
	Integrations    int    `json:"integrations"`
	InstalledPerOrg int    `json:"installedPerOrganization"` // besides the events integration
	EnabledPerSpace int    `json:"enabledPerSpace"`
	UsersPerOrg     int    `json:"usersPerOrganization"`
}

// Spaces returns the number of spaces.
func (s Scale) Spaces() int { return s.Organizations * s.SpacesPerOrg }

// SpaceInstallations returns the number of space installations.
func (s Scale) SpaceInstallations() int { return s.Spaces() * s.EnabledPerSpace }

// Scales are the sizes the benchmark seeds: tiny for CI, small (10,000
// space installations), default (100,000) and large (1,000,000). Every
// space has the same number of enabled integrations at every scale, so that
// the answers of the reads keep their size and only the database grows.
var Scales = map[string]Scale{
	"small":   {Name: "small", Organizations: 100, SpacesPerOrg: 10, Integrations: 500, InstalledPerOrg: 15, EnabledPerSpace: 10, UsersPerOrg: 4},
	"tiny":    {Name: "tiny", Organizations: 10, SpacesPerOrg: 5, Integrations: 40, InstalledPerOrg: 14, EnabledPerSpace: 10, UsersPerOrg: 3},
	"default": {Name: "default", Organizations: 1_000, SpacesPerOrg: 10, Integrations: 500, InstalledPerOrg: 15, EnabledPerSpace: 10, UsersPerOrg: 4},
	"large":   {Name: "large", Organizations: 10_000, SpacesPerOrg: 10, Integrations: 500, InstalledPerOrg: 15, EnabledPerSpace: 10, UsersPerOrg: 4},
}

// eventsIntegration is the name of the integration whose events go to the
// benchmark's receiver. Every organization installs it, on no space: the
// events phase enables and disables it on spaces.
const eventsIntegration = "bench-events"

// world is the seeded dataset and what the load needs to know of it: the
// token secrets (the store keeps only their hashes) and the places where an
// installation may be enabled.
type world struct {
	scale   Scale
	dataset *integrations.Dataset

	userSecrets        []string // by index in dataset.Users
	integrationSecrets []string // by index in dataset.Integrations
	orgUsers           [][]int  // the users of each organization, its admin first
	spaceOrg           []int    // the organization of each space
	// enabled lists the integrations enabled in each space, and installs
	// the installations of each organization.
	enabled  [][]int
	installs [][]int // indexes in dataset.Installations
	// free are the (installation, space) pairs where an installation of
	// the space's organization is not enabled, without the events
	// integration; eventSlots are those of the events integration.
	free, eventSlots []slot
}

type slot struct{ installation, space int32 }

// epoch is when the seeded objects begin to be created.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// generate builds the dataset of a scale. It is deterministic: the same
// scale always gives the same ids, tokens and objects.
func generate(sc Scale) *world {
	r := rand.New(rand.NewPCG(6, uint64(sc.SpaceInstallations())))
	g := &generator{r: r}
	d := &integrations.Dataset{}
	w := &world{scale: sc, dataset: d}

	// Organizations, their members and their tokens. One user in ten is
	// also a reader of the next organization.
	roles := []integrations.Role{integrations.RoleAdmin, integrations.RoleCreate, integrations.RoleEdit, integrations.RoleRead}
	d.Organizations = make([]integrations.Organization, sc.Organizations)
	w.orgUsers = make([][]int, sc.Organizations)
	for o := range d.Organizations {
		org := &d.Organizations[o]
		org.ID = g.id()
		org.Title = fmt.Sprintf("%s %s %d", pick(r, words), pick(r, orgSuffixes), o)
		if o%3 == 0 {
			org.Hostname = fmt.Sprintf("org-%d", o)
		}
		org.EmailDomains = []string{}
		if o%4 == 0 {
			org.EmailDomains = []string{fmt.Sprintf("org-%d.example.com", o)}
		}
		org.CreatedAt = g.tick()
		for u := range sc.UsersPerOrg {
			n := len(d.Users)
			first, last := pick(r, firstNames), pick(r, lastNames)
			d.Users = append(d.Users, integrations.User{
				ID: g.id(), DisplayName: first + " " + last,
				Email:     fmt.Sprintf("%s.%s.%d@org-%d.example.com", strings.ToLower(first), strings.ToLower(last), n, o),
				PhotoURL:  fmt.Sprintf("https://avatars.example.com/u/%d.png", n),
				CreatedAt: g.tick(),
			})
			d.Members = append(d.Members, integrations.Member{OrganizationID: org.ID, UserID: d.Users[n].ID, Role: roles[u%len(roles)], JoinedAt: g.tick()})
			w.orgUsers[o] = append(w.orgUsers[o], n)
			secret := "gb_api_" + g.secret()
			w.userSecrets = append(w.userSecrets, secret)
			d.Tokens = append(d.Tokens, integrations.Token{Hash: hash(secret), Kind: integrations.TokenUser, UserID: d.Users[n].ID, CreatedAt: g.tick()})
		}
	}
	for o := range d.Organizations {
		if next := (o + 1) % len(d.Organizations); o%10 == 0 && next != o {
			d.Members = append(d.Members, integrations.Member{OrganizationID: d.Organizations[next].ID, UserID: d.Users[w.orgUsers[o][0]].ID,
				Role: integrations.RoleRead, JoinedAt: g.tick()})
		}
	}

	// Spaces.
	d.Spaces = make([]integrations.Space, 0, sc.Spaces())
	for o := range d.Organizations {
		for range sc.SpacesPerOrg {
			t := g.tick()
			s := integrations.Space{
				ID: g.id(), OrganizationID: d.Organizations[o].ID,
				Title:      fmt.Sprintf("%s %s", pick(r, words), pick(r, spaceKinds)),
				Visibility: pick(r, []string{"public", "private", "private", "unlisted", "share-link"}),
				EditMode:   pick(r, []string{"live", "locked", ""}), Language: pick(r, []string{"en", "en", "fr", "de", "ja"}),
				DefaultLevel: "inherit", CreatedAt: t, UpdatedAt: t,
			}
			if r.IntN(2) == 0 {
				s.Emoji = "1f4d8"
			}
			d.Spaces = append(d.Spaces, s)
			w.spaceOrg = append(w.spaceOrg, o)
		}
	}

	// Integrations, published by the first organizations.
	publishers := max(1, min(50, sc.Organizations/10))
	d.Integrations = make([]integrations.Integration, sc.Integrations)
	for n := range d.Integrations {
		d.Integrations[n] = g.integration(n, d.Organizations[n%publishers].ID)
		secret := "gb_int_" + g.secret()
		w.integrationSecrets = append(w.integrationSecrets, secret)
		d.Tokens = append(d.Tokens, integrations.Token{Hash: hash(secret), Kind: integrations.TokenIntegration, IntegrationID: d.Integrations[n].ID, CreatedAt: g.tick()})
	}
	d.Integrations[0].Name, d.Integrations[0].Title, d.Integrations[0].Visibility = eventsIntegration, "Bench events", "private"

	// Installations: every organization installs the events integration
	// and InstalledPerOrg others; each of its spaces enables EnabledPerSpace
	// of those.
	spaceConfigs := []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`{"channel":"#docs"}`), json.RawMessage(`{"channel":"#general","notify":true}`)}
	w.enabled = make([][]int, len(d.Spaces))
	w.installs = make([][]int, sc.Organizations)
	d.SpaceInstallations = make([]integrations.SpaceInstallation, 0, sc.SpaceInstallations())
	for o := range d.Organizations {
		chosen := append([]int{0}, r.Perm(sc.Integrations - 1)[:sc.InstalledPerOrg]...)
		for k, i := range chosen {
			if k > 0 {
				chosen[k] = i + 1
			}
		}
		for _, i := range chosen {
			t := g.tick()
			w.installs[o] = append(w.installs[o], len(d.Installations))
			in := integrations.Installation{
				ID: g.id(), IntegrationID: d.Integrations[i].ID, OrganizationID: d.Organizations[o].ID, Status: integrations.StatusActive,
				SpaceSelection: "selected", SiteSelection: "selected", Configuration: json.RawMessage(`{"api_key":"` + g.secret()[:24] + `"}`),
				ExternalIDs: []string{}, CreatedAt: t, UpdatedAt: t,
			}
			if r.IntN(4) == 0 {
				in.ExternalIDs = []string{fmt.Sprintf("account-%d", len(d.Installations))}
			}
			d.Installations = append(d.Installations, in)
		}
		for s := o * sc.SpacesPerOrg; s < (o+1)*sc.SpacesPerOrg; s++ {
			order := r.Perm(sc.InstalledPerOrg)
			for k, p := range order {
				inst := w.installs[o][p+1] // skipping the events integration
				if k >= sc.EnabledPerSpace {
					w.free = append(w.free, slot{int32(inst), int32(s)})
					continue
				}
				t := g.tick()
				d.SpaceInstallations = append(d.SpaceInstallations, integrations.SpaceInstallation{
					InstallationID: d.Installations[inst].ID, SpaceID: d.Spaces[s].ID, Status: integrations.StatusActive,
					Configuration: spaceConfigs[r.IntN(len(spaceConfigs))], CreatedAt: t, UpdatedAt: t,
				})
				w.enabled[s] = append(w.enabled[s], chosen[p+1])
			}
			w.eventSlots = append(w.eventSlots, slot{int32(w.installs[o][0]), int32(s)})
		}
	}
	r.Shuffle(len(w.free), func(a, b int) { w.free[a], w.free[b] = w.free[b], w.free[a] })
	r.Shuffle(len(w.eventSlots), func(a, b int) { w.eventSlots[a], w.eventSlots[b] = w.eventSlots[b], w.eventSlots[a] })
	return w
}

// rows returns the number of rows of the dataset.
func (w *world) rows() int {
	d := w.dataset
	return len(d.Users) + len(d.Tokens) + len(d.Organizations) + len(d.Members) + len(d.Spaces) + len(d.Integrations) + len(d.Installations) + len(d.SpaceInstallations)
}

func hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// generator makes the values of the dataset from a seeded source.
type generator struct {
	r   *rand.Rand
	now time.Time
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// id returns a 20-character id shaped like GitBook's.
func (g *generator) id() string { return g.chars(20) }

// secret returns the random part of a token.
func (g *generator) secret() string { return g.chars(40) }

func (g *generator) chars(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

// tick returns the creation time of the next object: a second after the
// previous one.
func (g *generator) tick() time.Time {
	if g.now.IsZero() {
		g.now = epoch
	}
	g.now = g.now.Add(time.Second)
	return g.now
}

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// integration returns a published integration like those of GitBook's
// marketplace: blocks, configuration forms, links, secrets and a script.
func (g *generator) integration(n int, owner string) integrations.Integration {
	r := g.r
	word := pick(r, words)
	t := g.tick()
	i := integrations.Integration{
		ID: g.id(), Name: fmt.Sprintf("%s-%s-%d", strings.ToLower(word), pick(r, productSuffixes), n), OrganizationID: owner,
		Version: 1 + r.IntN(12), Verified: r.IntN(5) == 0, Runtime: "v2",
		Title:       fmt.Sprintf("%s %s", word, pick(r, titleSuffixes)),
		Description: fmt.Sprintf("Connect %s to your GitBook spaces and keep your docs in sync.", word),
		Summary: fmt.Sprintf("# %s\n\nThe %s integration brings %s into GitBook. Embed live content in your pages, "+
			"get notified when something changes, and let your team find what they need without leaving the docs.\n\n"+
			"## Features\n\n- Rich previews of %s links\n- Notifications on every change\n- Works in every space of your organization\n", word, word, word, word),
		Visibility: pick(r, []string{"public", "public", "public", "public", "public", "public", "unlisted", "private"}),
		Target:     pick(r, []string{"all", "all", "space"}),
		Scopes:     []string{"space:content:read", "space:metadata:read"},
		Categories: []string{pick(r, integrations.IntegrationCategories)},
		ExternalLinks: []integrations.ExternalLink{
			{URL: fmt.Sprintf("https://%s.example.com/docs", strings.ToLower(word)), Label: "Documentation"},
			{URL: fmt.Sprintf("https://%s.example.com/support", strings.ToLower(word)), Label: "Support"},
		},
		Configurations: integrations.Configurations{
			Account: &integrations.Configuration{Properties: map[string]integrations.ConfigProperty{
				"api_key":  {Type: "string", Title: "API key", Description: "Your " + word + " API key"},
				"region":   {Type: "string", Title: "Region", Enum: []string{"eu", "us", "ap"}, Default: "eu"},
				"interval": {Type: "number", Title: "Sync interval", Default: float64(15)},
			}, Required: []string{"api_key"}},
			Space: &integrations.Configuration{Properties: map[string]integrations.ConfigProperty{
				"channel": {Type: "string", Title: "Channel", Default: "#docs"},
				"notify":  {Type: "boolean", Title: "Notify on change", Default: true},
			}},
		},
		Secrets:   map[string]string{"CLIENT_SECRET": g.secret()},
		Script:    strings.Repeat(fmt.Sprintf("export default createIntegration({ name: %q, events: {} });\n", word), 20+r.IntN(40)),
		CreatedAt: t, UpdatedAt: t,
	}
	if r.IntN(2) == 0 {
		i.Scopes = append(i.Scopes, "space:content:write")
	}
	if r.IntN(3) > 0 {
		host := strings.ToLower(word) + ".example.com"
		for b := range 1 + r.IntN(3) {
			i.Blocks = append(i.Blocks, integrations.Block{
				ID: fmt.Sprintf("%s-block-%d", strings.ToLower(word), b), Title: fmt.Sprintf("%s %s", word, pick(r, blockKinds)),
				Description: fmt.Sprintf("Embed a %s %s in your page", word, pick(r, blockKinds)),
				URLUnfurl:   []string{fmt.Sprintf("https://%s/embed/", host), fmt.Sprintf("https://app.%s/", host)},
				Markdown:    &integrations.BlockMarkdown{Codeblock: strings.ToLower(word), Body: "content"},
			})
		}
	}
	if r.IntN(5) == 0 {
		i.ContentSources = []integrations.ContentSource{{ID: "import", Title: "Import from " + word, Configuration: json.RawMessage(`{"componentId":"import-form"}`)}}
	}
	if r.IntN(3) == 0 {
		i.ContentSecurityPolicy = json.RawMessage(fmt.Sprintf(`{"frame-src":"https://*.%s.example.com","script-src":"'self'"}`, strings.ToLower(word)))
	}
	return i
}

var (
	words = []string{"Slack", "Jira", "Linear", "Figma", "GitHub", "GitLab", "Sentry", "Mermaid", "Loom", "Miro", "Zapier", "Intercom",
		"Segment", "Amplitude", "Mixpanel", "Heap", "Hotjar", "Lucid", "Airtable", "Notion", "Trello", "Asana", "Zendesk", "Calendly",
		"Typeform", "Stripe", "Twilio", "Algolia", "Postman", "Swagger", "Runkit", "Replit", "CodeSandbox", "StackBlitz", "Excalidraw"}
	orgSuffixes     = []string{"Inc", "Labs", "Corp", "Studio", "Cloud", "Systems", "Docs", "Team"}
	spaceKinds      = []string{"Handbook", "API reference", "Guides", "Changelog", "Runbooks", "Onboarding", "Product docs", "Wiki"}
	productSuffixes = []string{"sync", "embed", "connect", "bridge", "hub", "live"}
	titleSuffixes   = []string{"Sync", "Embeds", "Connect", "for GitBook", "Live"}
	blockKinds      = []string{"preview", "card", "table", "diagram", "board", "snippet"}
	firstNames      = []string{"Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "Radia", "Tim"}
	lastNames       = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra", "Perlman", "Berners-Lee"}
)
