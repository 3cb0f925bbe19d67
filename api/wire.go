package api

import (
	"encoding/json"
	"net/url"
	"time"

	"integrations"
	"integrations/service"
)

// The GitBook wire types: the JSON shapes of the spec, built from domain
// objects in one place.

// timestamp formats a time as the spec's Timestamp (RFC 3339, UTC, milliseconds).
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type urlsLocation struct {
	Location string `json:"location"`
}

type userJSON struct {
	Object      string       `json:"object"`
	ID          string       `json:"id"`
	DisplayName string       `json:"displayName"`
	Email       string       `json:"email,omitempty"`
	PhotoURL    string       `json:"photoURL,omitempty"`
	URLs        urlsLocation `json:"urls"`
}

func (s *Server) user(u *integrations.User) userJSON {
	return userJSON{Object: "user", ID: u.ID, DisplayName: u.DisplayName, Email: u.Email, PhotoURL: u.PhotoURL,
		URLs: urlsLocation{s.url("/v1/users/" + u.ID)}}
}

// url returns the absolute URL of a path on this server.
func (s *Server) url(path string) string { return s.cfg.PublicURL + path }

// esc escapes a value for a URL path.
func esc(v string) string { return url.PathEscape(v) }

type organizationJSON struct {
	Object       string   `json:"object"`
	ID           string   `json:"id"`
	Title        string   `json:"title"`
	CreatedAt    string   `json:"createdAt"`
	EmailDomains []string `json:"emailDomains"`
	Hostname     string   `json:"hostname,omitempty"`
	Type         string   `json:"type"`
	InviteLinks  bool     `json:"inviteLinks"`
	Plan         string   `json:"plan"`
	MergeRules   struct {
		Type string `json:"type"`
	} `json:"mergeRules"`
	URLs struct {
		Location string `json:"location"`
		App      string `json:"app"`
	} `json:"urls"`
	Trial struct {
		Status string `json:"status"`
		Count  int    `json:"count"`
	} `json:"trial"`
	Permissions orgPermissions `json:"permissions"`
}

type orgPermissions struct {
	View               bool `json:"view"`
	Access             bool `json:"access"`
	Admin              bool `json:"admin"`
	OwnTeam            bool `json:"ownTeam"`
	CreateContent      bool `json:"createContent"`
	CreateOpenAPISpec  bool `json:"createOpenAPISpec"`
	ViewBilling        bool `json:"viewBilling"`
	ListMembers        bool `json:"listMembers"`
	ListTeams          bool `json:"listTeams"`
	ListIntegrations   bool `json:"listIntegrations"`
	ListInstallations  bool `json:"listInstallations"`
	InstallIntegration bool `json:"installIntegration"`
}

// organization encodes an organization as seen by a caller with the role.
// Callers who see it without a role (tokens of integrations) may only view it.
func (s *Server) organization(o *integrations.Organization, role integrations.Role) organizationJSON {
	j := organizationJSON{Object: "organization", ID: o.ID, Title: o.Title, CreatedAt: timestamp(o.CreatedAt),
		EmailDomains: orEmpty(o.EmailDomains), Hostname: o.Hostname, Type: "business", Plan: "free"}
	j.MergeRules.Type = "none"
	j.URLs.Location = s.url("/v1/orgs/" + o.ID)
	j.URLs.App = s.url("/app/orgs/" + o.ID)
	j.Trial.Status = "notapplicable"
	member := role != ""
	admin := role == integrations.RoleAdmin
	j.Permissions = orgPermissions{
		View: true, Access: member, Admin: admin, CreateContent: role.CanCreateContent(), CreateOpenAPISpec: role.CanCreateContent(),
		ViewBilling: admin, ListMembers: member, ListTeams: member, ListIntegrations: member, ListInstallations: member,
		InstallIntegration: admin,
	}
	return j
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type memberJSON struct {
	Object   string   `json:"object"`
	ID       string   `json:"id"`
	Role     string   `json:"role"`
	User     userJSON `json:"user"`
	Disabled bool     `json:"disabled"`
	JoinedAt string   `json:"joinedAt"`
	SSO      bool     `json:"sso"`
	Spaces   int      `json:"spaces"`
	Teams    int      `json:"teams"`
	Sites    int      `json:"sites"`
}

func (s *Server) member(m *integrations.Member) memberJSON {
	return memberJSON{Object: "member", ID: m.UserID, Role: string(m.Role), User: s.user(m.User), JoinedAt: timestamp(m.JoinedAt)}
}

type spaceJSON struct {
	Object       string          `json:"object"`
	ID           string          `json:"id"`
	Title        string          `json:"title"`
	Emoji        string          `json:"emoji"`
	Visibility   string          `json:"visibility"`
	CreatedAt    string          `json:"createdAt"`
	UpdatedAt    string          `json:"updatedAt"`
	EditMode     string          `json:"editMode,omitempty"`
	Language     string          `json:"language,omitempty"`
	MergeRules   json.RawMessage `json:"mergeRules"`
	URLs         spaceURLs       `json:"urls"`
	Organization string          `json:"organization"`
	Revision     string          `json:"revision"`
	DefaultLevel *string         `json:"defaultLevel"`
	Comments     int             `json:"comments"`
	ChangeReqs   int             `json:"changeRequests"`
	ChangeOpen   int             `json:"changeRequestsOpen"`
	ChangeDraft  int             `json:"changeRequestsDraft"`
	Permissions  spacePerms      `json:"permissions"`
}

type spaceURLs struct {
	Location string `json:"location"`
	App      string `json:"app"`
	Icon     string `json:"icon,omitempty"`
}

type spacePerms struct {
	View               bool `json:"view"`
	Access             bool `json:"access"`
	Admin              bool `json:"admin"`
	ViewInviteLinks    bool `json:"viewInviteLinks"`
	Edit               bool `json:"edit"`
	TriggerGitSync     bool `json:"triggerGitSync"`
	Comment            bool `json:"comment"`
	Merge              bool `json:"merge"`
	Review             bool `json:"review"`
	InstallIntegration bool `json:"installIntegration"`
}

var inheritMergeRules = json.RawMessage(`{"type":"inherit"}`)

// space encodes a space as seen by a caller with the role in its organization.
func (s *Server) space(sp service.Space) spaceJSON {
	j := spaceJSON{Object: "space", ID: sp.ID, Title: sp.Title, Emoji: sp.Emoji, Visibility: sp.Visibility,
		CreatedAt: timestamp(sp.CreatedAt), UpdatedAt: timestamp(sp.UpdatedAt), EditMode: sp.EditMode, Language: sp.Language,
		MergeRules: sp.MergeRules, Organization: sp.OrganizationID,
		// The server keeps no content, so every space is at its first revision.
		Revision: "initial",
	}
	if j.MergeRules == nil {
		j.MergeRules = inheritMergeRules
	}
	if sp.DefaultLevel != "guest" {
		level := sp.DefaultLevel
		if level == "" {
			level = "inherit"
		}
		j.DefaultLevel = &level
	}
	j.URLs = spaceURLs{Location: s.url("/v1/spaces/" + sp.ID), App: s.url("/app/spaces/" + sp.ID), Icon: sp.Icon}
	r := sp.Role
	j.Permissions = spacePerms{
		View: true, Access: r != "", Admin: r == integrations.RoleAdmin, ViewInviteLinks: r == integrations.RoleAdmin,
		Edit: r.CanEdit(), TriggerGitSync: r.CanEdit(), Comment: r.CanComment(), Merge: r.CanEdit(), Review: r.CanReview(),
		InstallIntegration: r == integrations.RoleAdmin,
	}
	return j
}

type integrationJSON struct {
	Object         string                       `json:"object"`
	Name           string                       `json:"name"`
	Version        int                          `json:"version"`
	Title          string                       `json:"title"`
	Description    string                       `json:"description,omitempty"`
	Summary        string                       `json:"summary,omitempty"`
	PreviewImages  []string                     `json:"previewImages"`
	Target         string                       `json:"target"`
	Verified       bool                         `json:"verified"`
	Visibility     string                       `json:"visibility"`
	Scopes         []string                     `json:"scopes"`
	Categories     []string                     `json:"categories"`
	Blocks         []integrations.Block         `json:"blocks,omitempty"`
	ContentSources []integrations.ContentSource `json:"contentSources,omitempty"`
	Configurations *integrations.Configurations `json:"configurations,omitempty"`
	ExternalLinks  []integrations.ExternalLink  `json:"externalLinks"`
	Owner          organizationJSON             `json:"owner"`
	URLs           integrationURLs              `json:"urls"`
	Permissions    struct {
		Admin bool `json:"admin"`
	} `json:"permissions"`
	ContentSecurityPolicy json.RawMessage `json:"contentSecurityPolicy,omitempty"`
}

type integrationURLs struct {
	Location              string `json:"location"`
	Icon                  string `json:"icon,omitempty"`
	App                   string `json:"app"`
	Assets                string `json:"assets"`
	PublicEndpoint        string `json:"publicEndpoint"`
	PublicContentEndpoint string `json:"publicContentEndpoint"`
}

// integration encodes an integration as seen by a caller with the role in
// its owner organization.
func (s *Server) integration(i service.Integration) integrationJSON {
	name := esc(i.Name)
	j := integrationJSON{Object: "integration", Name: i.Name, Version: i.Version, Title: i.Title, Description: i.Description,
		Summary: i.Summary, PreviewImages: []string{}, Target: i.Target, Verified: i.Verified, Visibility: i.Visibility,
		Scopes: orEmpty(i.Scopes), Categories: orEmpty(i.Categories), Blocks: i.Blocks, ContentSources: i.ContentSources,
		ExternalLinks: orEmpty(i.ExternalLinks), Owner: s.organization(i.Owner, i.OwnerRole),
		ContentSecurityPolicy: i.ContentSecurityPolicy,
	}
	c := i.Configurations
	if c.Account != nil || c.Space != nil || c.Site != nil {
		j.Configurations = &c
	}
	assets := s.url("/assets/integrations/" + name + "/")
	for _, id := range i.PreviewImages {
		j.PreviewImages = append(j.PreviewImages, assets+id)
	}
	j.URLs = integrationURLs{
		Location:              s.url("/v1/integrations/" + name),
		App:                   s.url("/app/integrations/" + name),
		Assets:                assets,
		PublicEndpoint:        s.url("/ext/integrations/" + name + "/public"),
		PublicContentEndpoint: s.url("/ext/integrations/" + name + "/public"),
	}
	if i.Icon != "" {
		j.URLs.Icon = assets + i.Icon
	}
	j.Permissions.Admin = i.OwnerRole == integrations.RoleAdmin
	return j
}

// listJSON is the spec's List envelope.
type listJSON[T any] struct {
	Items []T       `json:"items"`
	Count int       `json:"count"`
	Next  *nextPage `json:"next,omitempty"`
}

type nextPage struct {
	Page string `json:"page"`
}

// encodeList encodes a page of a listing with convert.
func encodeList[T, J any](l service.List[T], convert func(T) J) listJSON[J] {
	out := listJSON[J]{Items: make([]J, len(l.Items)), Count: l.Count}
	for n, item := range l.Items {
		out.Items[n] = convert(item)
	}
	if l.Next != "" {
		out.Next = &nextPage{l.Next}
	}
	return out
}
