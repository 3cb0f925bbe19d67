package sqlstore

import (
	"encoding/json"
	"net/url"
	"strings"

	"integrations"
)

// definition is the stored JSON of what a publisher declared beyond the
// columns that listings filter on.
type definition struct {
	Runtime               string                       `json:"runtime"`
	Description           string                       `json:"description,omitempty"`
	Summary               string                       `json:"summary,omitempty"`
	Scopes                []string                     `json:"scopes"`
	Categories            []string                     `json:"categories"`
	Blocks                []integrations.Block         `json:"blocks,omitempty"`
	ContentSources        []integrations.ContentSource `json:"contentSources,omitempty"`
	ExternalLinks         []integrations.ExternalLink  `json:"externalLinks,omitempty"`
	Configurations        integrations.Configurations  `json:"configurations"`
	ContentSecurityPolicy json.RawMessage              `json:"contentSecurityPolicy,omitempty"`
	Secrets               map[string]string            `json:"secrets,omitempty"`
	PreviewImages         []string                     `json:"previewImages,omitempty"`
}

// The columns of integrations with their owner, joined as o.
const integrationColumns = `i.id, i.name, i.organization_id, i.version, i.verified, i.title, i.visibility, i.target, i.definition, i.icon, i.created_at, i.updated_at, ` + orgColumns

func scanIntegration(s scanner) (*integrations.Integration, error) {
	var i integrations.Integration
	var o integrations.Organization
	var verified int
	var def, domains string
	var created, updated, orgCreated int64
	if err := s.Scan(&i.ID, &i.Name, &i.OrganizationID, &i.Version, &verified, &i.Title, &i.Visibility, &i.Target, &def, &i.Icon, &created, &updated,
		&o.ID, &o.Title, &o.Hostname, &domains, &orgCreated); err != nil {
		return nil, err
	}
	var d definition
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(domains), &o.EmailDomains); err != nil {
		return nil, err
	}
	i.Verified = verified != 0
	i.CreatedAt, i.UpdatedAt = fromMicros(created), fromMicros(updated)
	o.CreatedAt = fromMicros(orgCreated)
	i.Owner = &o
	i.Runtime, i.Description, i.Summary = d.Runtime, d.Description, d.Summary
	i.Scopes, i.Categories = d.Scopes, d.Categories
	i.Blocks, i.ContentSources, i.ExternalLinks = d.Blocks, d.ContentSources, d.ExternalLinks
	i.Configurations, i.ContentSecurityPolicy, i.Secrets = d.Configurations, d.ContentSecurityPolicy, d.Secrets
	i.PreviewImages = d.PreviewImages
	return &i, nil
}

// integrationRow returns the stored values of an integration, in the order of
// the insert and update statements.
func integrationRow(i *integrations.Integration) []any {
	d := definition{
		Runtime: i.Runtime, Description: i.Description, Summary: i.Summary,
		Scopes: orEmpty(i.Scopes), Categories: orEmpty(i.Categories),
		Blocks: i.Blocks, ContentSources: i.ContentSources, ExternalLinks: i.ExternalLinks,
		Configurations: i.Configurations, ContentSecurityPolicy: i.ContentSecurityPolicy, Secrets: i.Secrets,
		PreviewImages: i.PreviewImages,
	}
	def, err := json.Marshal(d)
	if err != nil {
		panic(err) // every field encodes
	}
	return []any{
		i.OrganizationID, i.Version, boolInt(i.Verified), i.Title, i.Visibility, i.Target,
		searchText(i.Name, i.Title), tagList(i.Categories), tagList(i.Scopes), tagList(blockDomains(i.Blocks)),
		boolInt(len(i.Blocks) > 0), boolInt(len(i.ContentSources) > 0), string(def), i.Script, i.Icon, micros(i.UpdatedAt),
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// tagList stores a list for matching with LIKE '%,value,%'.
func tagList(values []string) string {
	return "," + strings.Join(values, ",") + ","
}

// blockDomains returns the lower-cased hosts that the blocks unfurl.
func blockDomains(blocks []integrations.Block) []string {
	var hosts []string
	for _, b := range blocks {
		for _, u := range b.URLUnfurl {
			if p, err := url.Parse(u); err == nil && p.Hostname() != "" {
				hosts = append(hosts, strings.ToLower(p.Hostname()))
			}
		}
	}
	return hosts
}

func (t *tx) CreateIntegration(i *integrations.Integration) error {
	args := append([]any{i.ID, i.Name}, integrationRow(i)...)
	args = append(args, micros(i.CreatedAt))
	_, err := t.exec(`INSERT INTO integrations (id, name, organization_id, version, verified, title, visibility, target,
		search, categories, scopes, block_domains, has_blocks, has_content_sources, definition, script, icon, updated_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	return t.insertErr(err, "An integration named "+i.Name)
}

func (t *tx) UpdateIntegration(i *integrations.Integration) error {
	args := append(integrationRow(i), i.ID)
	ok, err := affected(t.exec(`UPDATE integrations SET organization_id = ?, version = ?, verified = ?, title = ?, visibility = ?, target = ?,
		search = ?, categories = ?, scopes = ?, block_domains = ?, has_blocks = ?, has_content_sources = ?, definition = ?, script = ?, icon = ?, updated_at = ?
		WHERE id = ?`, args...))
	if err != nil {
		return err
	} else if !ok {
		return integrations.Errorf(integrations.ENOTFOUND, "Integration %q not found.", i.Name)
	}
	return nil
}

func (t *tx) DeleteIntegration(id string) (bool, error) {
	return affected(t.exec(`DELETE FROM integrations WHERE id = ?`, id))
}

const integrationFrom = ` FROM integrations i JOIN organizations o ON o.id = i.organization_id`

func (t *tx) Integration(name string) (*integrations.Integration, error) {
	return ref(t, "integration:"+name, true, copyIntegration, func(t *tx) (*integrations.Integration, error) {
		i, err := scanIntegration(t.queryRow(`SELECT `+integrationColumns+integrationFrom+` WHERE i.name = ?`, name))
		return i, notFound(err, "Integration %q not found.", name)
	})
}

func (t *tx) IntegrationByID(id string) (*integrations.Integration, error) {
	return t.integrationByID(id, copyIntegration)
}

// integrationByID looks an integration up by id, through the reference
// cache, and hands out copy's copy of it: shared, for a lookup whose
// caller only reads what it gets.
func (t *tx) integrationByID(id string, copy func(*integrations.Integration) *integrations.Integration) (*integrations.Integration, error) {
	return ref(t, "integrationID:"+id, true, copy, func(t *tx) (*integrations.Integration, error) {
		i, err := scanIntegration(t.queryRow(`SELECT `+integrationColumns+integrationFrom+` WHERE i.id = ?`, id))
		return i, notFound(err, "Integration %q not found.", id)
	})
}

func copyIntegration(i *integrations.Integration) *integrations.Integration {
	c := *i
	if i.Owner != nil {
		o := *i.Owner
		c.Owner = &o
	}
	return &c
}

// addTo adds the conditions of an integration filter to w.
func (f integrationFilter) addTo(w *where) {
	if f.Search != "" {
		w.add(`i.search LIKE ? ESCAPE '\'`, likePattern(strings.ToLower(f.Search)))
	}
	if f.Category != "" {
		w.add(`i.categories LIKE ? ESCAPE '\'`, likePattern(","+f.Category+","))
	}
	if f.Scope != "" {
		w.add(`i.scopes LIKE ? ESCAPE '\'`, likePattern(","+f.Scope+","))
	}
	if f.BlockDomain != "" {
		w.add(`i.block_domains LIKE ? ESCAPE '\'`, likePattern(","+strings.ToLower(f.BlockDomain)+","))
	}
	if f.Target != "" {
		w.add(`i.target = ?`, f.Target)
	}
	if f.Owner != "" {
		w.add(`i.organization_id = ?`, f.Owner)
	}
	if f.Blocks != nil {
		w.add(`i.has_blocks = ?`, boolInt(*f.Blocks))
	}
	if f.ContentSources != nil {
		w.add(`i.has_content_sources = ?`, boolInt(*f.ContentSources))
	}
	if !f.AllVisible {
		w.add(`(i.visibility = 'public' OR i.id = ? OR i.organization_id = ?
			OR i.organization_id IN (SELECT organization_id FROM members WHERE user_id = ?)
			OR i.id IN (SELECT integration_id FROM installations WHERE organization_id = ?))`,
			f.VisibleIntegrationID, f.VisibleToOrganization, f.VisibleToUser, f.VisibleToOrganization)
	}
}

type integrationFilter integrations.IntegrationFilter

func (t *tx) Integrations(f integrations.IntegrationFilter, p integrations.Page) ([]*integrations.Integration, int, error) {
	var w where
	integrationFilter(f).addTo(&w)
	total, err := t.count(`SELECT COUNT(*) FROM integrations i`+w.String(), w.args...)
	if err != nil {
		return nil, 0, err
	}
	order := pageClause(&w, p, "i.name", "i.id", cursorKey(p), false)
	list, err := t.integrationsOf(`SELECT i.id FROM integrations i`+w.String()+order, w.args...)
	return list, total, err
}

// integrationsOf returns the integrations whose ids a query selects, in its
// order, read through the reference cache: most listings show the same few
// integrations again and again, and decoding their definitions is most of
// the cost of reading them.
func (t *tx) integrationsOf(query string, args ...any) ([]*integrations.Integration, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	ids, err := scanAll(rows, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	list := make([]*integrations.Integration, len(ids))
	for n, id := range ids {
		if list[n], err = t.IntegrationByID(id); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// spaceTargets are the integration targets that reach spaces; the others
// (organization, site) install on organizations only.
const spaceTargets = `('all', 'space')`

// enabledIn is the condition that an installation inst of the integration i
// is enabled in the space s: i targets spaces, inst is not paused, on the
// space's organization, and either selecting all spaces or installed on this
// one; a paused space installation disables it.
const enabledIn = `i.target IN ` + spaceTargets + ` AND inst.organization_id = s.organization_id AND inst.status <> 'paused'
	AND (EXISTS (SELECT 1 FROM space_installations si WHERE si.installation_id = inst.id AND si.space_id = s.id AND si.status <> 'paused')
		OR (inst.space_selection = 'all' AND NOT EXISTS (SELECT 1 FROM space_installations si WHERE si.installation_id = inst.id AND si.space_id = s.id)))`

func (t *tx) SpaceIntegrations(spaceID string, f integrations.IntegrationFilter, p integrations.Page) ([]*integrations.Integration, int, error) {
	var w where
	w.add(`s.id = ?`, spaceID)
	w.add(enabledIn)
	f.AllVisible = true // an installed integration is visible in the spaces it is enabled in
	integrationFilter(f).addTo(&w)
	const from = ` FROM spaces s JOIN installations inst ON inst.organization_id = s.organization_id JOIN integrations i ON i.id = inst.integration_id`
	total, err := t.count(`SELECT COUNT(*)`+from+w.String(), w.args...)
	if err != nil {
		return nil, 0, err
	}
	order := pageClause(&w, p, "i.name", "i.id", cursorKey(p), false)
	list, err := t.integrationsOf(`SELECT i.id`+from+w.String()+order, w.args...)
	return list, total, err
}

func (t *tx) PutAsset(integrationID string, a *integrations.Asset) error {
	_, err := t.exec(`INSERT INTO assets (integration_id, id, content_type, data) VALUES (?, ?, ?, ?) ON CONFLICT (integration_id, id) DO NOTHING`,
		integrationID, a.ID, a.ContentType, a.Data)
	return t.insertErr(err, "This asset")
}

func (t *tx) DeleteAssetsExcept(integrationID string, keep []string) error {
	var w where
	w.add(`integration_id = ?`, integrationID)
	if len(keep) > 0 {
		args := make([]any, len(keep))
		for n, k := range keep {
			args[n] = k
		}
		w.add(`id NOT IN (`+placeholders(len(keep))+`)`, args...)
	}
	_, err := t.exec(`DELETE FROM assets`+w.String(), w.args...)
	return err
}

func (t *tx) Asset(integrationName, id string) (*integrations.Asset, error) {
	var a integrations.Asset
	err := t.queryRow(`SELECT a.id, a.content_type, a.data FROM assets a JOIN integrations i ON i.id = a.integration_id WHERE i.name = ? AND a.id = ?`, integrationName, id).
		Scan(&a.ID, &a.ContentType, &a.Data)
	if err != nil {
		return nil, notFound(err, "Asset %q not found.", id)
	}
	return &a, nil
}
