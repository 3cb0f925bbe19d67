package integrations

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Integration is a published integration: what its publisher declared, plus
// the server's bookkeeping.
type Integration struct {
	ID             string // internal; the API names integrations by Name
	Name           string
	OrganizationID string // the owner
	Version        int    // bumped by every publish
	Verified       bool

	Runtime               string // v1 or v2
	Title                 string
	Description           string
	Summary               string
	Visibility            string // public, private or unlisted
	Target                string // all, site, space or organization
	Scopes                []string
	Categories            []string
	Blocks                []Block
	ContentSources        []ContentSource
	ExternalLinks         []ExternalLink
	Configurations        Configurations
	ContentSecurityPolicy json.RawMessage // a string or an object of directives
	Script                string
	Secrets               map[string]string

	// Icon and PreviewImages name stored assets (see Asset); empty when absent.
	Icon          string
	PreviewImages []string

	CreatedAt time.Time
	UpdatedAt time.Time

	Owner *Organization // filled in by reads
}

// Block is a custom block type contributed by an integration (IntegrationBlock).
type Block struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	Icon        string         `json:"icon,omitempty"`
	URLUnfurl   []string       `json:"urlUnfurl,omitempty"`
	Markdown    *BlockMarkdown `json:"markdown,omitempty"`
}

// BlockMarkdown is how a block reads and writes markdown.
type BlockMarkdown struct {
	Codeblock string `json:"codeblock"`
	Body      string `json:"body"`
}

// ContentSource is a source of computed content (IntegrationContentSource).
type ContentSource struct {
	ID            string          `json:"id"`
	Title         string          `json:"title"`
	Description   string          `json:"description,omitempty"`
	Icon          string          `json:"icon,omitempty"`
	Configuration json.RawMessage `json:"configuration"`
}

// ExternalLink is a link shown with the integration.
type ExternalLink struct {
	URL   string `json:"url"`
	Label string `json:"label"`
}

// Configurations are the configuration forms of an integration, per level.
type Configurations struct {
	Account *Configuration `json:"account,omitempty"`
	Space   *Configuration `json:"space,omitempty"`
	Site    *Configuration `json:"site,omitempty"`
}

// Configuration is either a schema (Properties, Required) or a ContentKit
// component (ComponentID): the spec's IntegrationConfiguration.
type Configuration struct {
	Properties  map[string]ConfigProperty `json:"properties,omitempty"`
	Required    []string                  `json:"required,omitempty"`
	ComponentID string                    `json:"componentId,omitempty"`
}

// ConfigProperty is one property of a configuration schema.
type ConfigProperty struct {
	Type          string   `json:"type"` // string, number, boolean or button
	Title         string   `json:"title,omitempty"`
	Description   string   `json:"description,omitempty"`
	Default       any      `json:"default,omitempty"`
	Enum          []string `json:"enum,omitempty"`
	CompletionURL string   `json:"completion_url,omitempty"`
	CallbackURL   string   `json:"callback_url,omitempty"`
	ButtonText    string   `json:"button_text,omitempty"`
}

// The spec's enums for integrations.
var (
	IntegrationVisibilities = []string{"public", "private", "unlisted"}
	IntegrationTargets      = []string{"all", "site", "space", "organization"}
	IntegrationScopes       = []string{"space:content:read", "space:content:write", "space:metadata:read", "space:metadata:write", "space:git:sync", "page:feedback:read", "site:metadata:read", "site:views:read", "site:script:inject", "site:script:cookies", "site:visitor:auth", "site:visitor:claims", "site:adaptive:read", "site:adaptive:write", "conversations:ingest", "openapi:read", "openapi:write"}
	IntegrationCategories   = []string{"analytics", "collaboration", "content", "marketing", "visitor-auth", "other"}
)

// Limits on a published integration. The first ones are the spec's; the
// others keep a single request from filling the database.
const (
	MaxPreviewImages  = 3
	MaxExternalLinks  = 5
	MaxSecrets        = 20
	MaxScriptBytes    = 5 << 20
	MaxIconBytes      = 256 << 10
	MaxPreviewBytes   = 1 << 20
	MaxBlocks         = 100
	MaxContentSources = 100
)

// CanInstallOnSpace reports whether the target allows enabling the integration
// on spaces. Every integration is installed on an organization first, whatever
// its target (as on GitBook, where the organization installation holds the
// account-level configuration); the target decides where it may go from there.
func (i *Integration) CanInstallOnSpace() bool {
	return i.Target == "all" || i.Target == "space"
}

// HasScope reports whether the integration declared the scope.
func (i *Integration) HasScope(scope string) bool {
	for _, s := range i.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Validate checks a published integration against the spec's PublishIntegration
// and Integration schemas. Messages name the field at fault.
func (i *Integration) Validate() error {
	if !ValidName(i.Name) {
		return Errorf(EINVALID, "integrationName must be 1 to %d letters, digits, '-', '_' or '.'", MaxNameLength)
	}
	if !oneOf(i.Runtime, "v1", "v2") {
		return Errorf(EINVALID, "runtime must be v1 or v2")
	}
	if n := utf8.RuneCountInString(i.Title); n < 2 || n > 30 {
		return Errorf(EINVALID, "title must be 2 to 30 characters")
	}
	if utf8.RuneCountInString(i.Description) > 100 {
		return Errorf(EINVALID, "description is longer than 100 characters")
	}
	if utf8.RuneCountInString(i.Summary) > 2048 {
		return Errorf(EINVALID, "summary is longer than 2048 characters")
	}
	if !oneOf(i.Visibility, IntegrationVisibilities...) {
		return Errorf(EINVALID, "visibility must be one of %s", strings.Join(IntegrationVisibilities, ", "))
	}
	if !oneOf(i.Target, IntegrationTargets...) {
		return Errorf(EINVALID, "target must be one of %s", strings.Join(IntegrationTargets, ", "))
	}
	for n, s := range i.Scopes {
		if !oneOf(s, IntegrationScopes...) {
			return Errorf(EINVALID, "scopes[%d] %q is not an integration scope", n, s)
		}
	}
	for n, c := range i.Categories {
		if !oneOf(c, IntegrationCategories...) {
			return Errorf(EINVALID, "categories[%d] must be one of %s", n, strings.Join(IntegrationCategories, ", "))
		}
	}
	if len(i.Blocks) > MaxBlocks {
		return Errorf(EINVALID, "blocks has more than %d items", MaxBlocks)
	}
	for n, b := range i.Blocks {
		if b.ID == "" {
			return Errorf(EINVALID, "blocks[%d].id is required", n)
		}
		if l := utf8.RuneCountInString(b.Title); l < 2 || l > 40 {
			return Errorf(EINVALID, "blocks[%d].title must be 2 to 40 characters", n)
		}
		if utf8.RuneCountInString(b.Description) > 150 {
			return Errorf(EINVALID, "blocks[%d].description is longer than 150 characters", n)
		}
		for m, other := range i.Blocks[:n] {
			if other.ID == b.ID {
				return Errorf(EINVALID, "blocks[%d].id %q repeats blocks[%d].id", n, b.ID, m)
			}
		}
	}
	if len(i.ContentSources) > MaxContentSources {
		return Errorf(EINVALID, "contentSources has more than %d items", MaxContentSources)
	}
	for n, c := range i.ContentSources {
		if c.ID == "" {
			return Errorf(EINVALID, "contentSources[%d].id is required", n)
		}
		if l := utf8.RuneCountInString(c.Title); l < 2 || l > 40 {
			return Errorf(EINVALID, "contentSources[%d].title must be 2 to 40 characters", n)
		}
		if utf8.RuneCountInString(c.Description) > 150 {
			return Errorf(EINVALID, "contentSources[%d].description is longer than 150 characters", n)
		}
		var comp struct {
			ComponentID *string `json:"componentId"`
		}
		if json.Unmarshal(c.Configuration, &comp) != nil || comp.ComponentID == nil {
			return Errorf(EINVALID, "contentSources[%d].configuration must be an object with a componentId", n)
		}
	}
	if len(i.ExternalLinks) > MaxExternalLinks {
		return Errorf(EINVALID, "externalLinks has more than %d items", MaxExternalLinks)
	}
	for n, l := range i.ExternalLinks {
		if !IsAbsoluteURL(l.URL) {
			return Errorf(EINVALID, "externalLinks[%d].url must be an absolute URL of at most 2048 characters", n)
		}
		if l.Label == "" {
			return Errorf(EINVALID, "externalLinks[%d].label is required", n)
		}
	}
	for level, c := range map[string]*Configuration{"account": i.Configurations.Account, "space": i.Configurations.Space, "site": i.Configurations.Site} {
		if err := c.validate("configurations." + level); err != nil {
			return err
		}
	}
	if err := validateCSP(i.ContentSecurityPolicy); err != nil {
		return err
	}
	if len(i.Secrets) > MaxSecrets {
		return Errorf(EINVALID, "secrets has more than %d entries", MaxSecrets)
	}
	if len(i.Script) > MaxScriptBytes {
		return Errorf(EINVALID, "script is larger than %d bytes", MaxScriptBytes)
	}
	if len(i.PreviewImages) > MaxPreviewImages {
		return Errorf(EINVALID, "previewImages has more than %d items", MaxPreviewImages)
	}
	return nil
}

// validate checks a configuration form. A nil form is valid.
func (c *Configuration) validate(field string) error {
	if c == nil {
		return nil
	}
	if c.ComponentID != "" {
		if c.Properties != nil {
			return Errorf(EINVALID, "%s must have either properties or componentId, not both", field)
		}
		return nil
	}
	if c.Properties == nil {
		return Errorf(EINVALID, "%s must have properties or a componentId", field)
	}
	for key, p := range c.Properties {
		f := field + ".properties." + key
		if p.Title != "" {
			if n := utf8.RuneCountInString(p.Title); n < 2 || n > 50 {
				return Errorf(EINVALID, "%s.title must be 2 to 50 characters", f)
			}
		}
		if utf8.RuneCountInString(p.Description) > 100 {
			return Errorf(EINVALID, "%s.description is longer than 100 characters", f)
		}
		switch p.Type {
		case "string":
			if _, ok := p.Default.(string); p.Default != nil && !ok {
				return Errorf(EINVALID, "%s.default must be a string", f)
			}
		case "number":
			if _, ok := p.Default.(float64); p.Default != nil && !ok {
				return Errorf(EINVALID, "%s.default must be a number", f)
			}
		case "boolean":
			if _, ok := p.Default.(bool); p.Default != nil && !ok {
				return Errorf(EINVALID, "%s.default must be a boolean", f)
			}
		case "button":
			if p.CallbackURL == "" || p.ButtonText == "" {
				return Errorf(EINVALID, "%s needs callback_url and button_text", f)
			}
		default:
			return Errorf(EINVALID, "%s.type must be string, number, boolean or button", f)
		}
	}
	seen := map[string]bool{}
	for n, r := range c.Required {
		if seen[r] {
			return Errorf(EINVALID, "%s.required[%d] %q is listed twice", field, n, r)
		}
		seen[r] = true
	}
	return nil
}

// CheckValues checks configuration values against the form: a value whose
// type or enum contradicts its property is refused. Values for properties the
// form does not declare are kept as given. It reports whether every required
// property has a value, which decides between the active and pending status.
func (c *Configuration) CheckValues(field string, values map[string]any) (complete bool, err error) {
	if c == nil || c.Properties == nil {
		return true, nil
	}
	for key, v := range values {
		p, ok := c.Properties[key]
		if !ok || v == nil {
			continue
		}
		f := field + "." + key
		switch p.Type {
		case "string":
			s, ok := v.(string)
			if !ok {
				return false, Errorf(EINVALID, "%s must be a string", f)
			}
			if len(p.Enum) > 0 && !oneOf(s, p.Enum...) {
				return false, Errorf(EINVALID, "%s must be one of %s", f, strings.Join(p.Enum, ", "))
			}
		case "number":
			if _, ok := v.(json.Number); !ok {
				if _, ok := v.(float64); !ok {
					return false, Errorf(EINVALID, "%s must be a number", f)
				}
			}
		case "boolean":
			if _, ok := v.(bool); !ok {
				return false, Errorf(EINVALID, "%s must be a boolean", f)
			}
		}
	}
	return c.complete(values), nil
}

// complete reports whether every required property of a schema form has a
// value; a ContentKit form requires none.
func (c *Configuration) complete(values map[string]any) bool {
	if c == nil || c.Properties == nil {
		return true
	}
	for _, key := range c.Required {
		if v, ok := values[key]; !ok || v == nil || v == "" {
			return false
		}
	}
	return true
}

var cspDirectives = []string{"base-uri", "block-all-mixed-content", "child-src", "connect-src", "default-src", "font-src", "form-action", "frame-ancestors", "frame-src", "img-src", "manifest-src", "media-src", "navigate-to", "object-src", "plugin-types", "prefetch-src", "referrer", "report-to", "report-uri", "require-sri-for", "require-trusted-types-for", "sandbox", "script-src", "script-src-attr", "script-src-elem", "style-src", "style-src-attr", "style-src-elem", "trusted-types", "upgrade-insecure-requests", "worker-src"}

// validateCSP checks the spec's IntegrationContentSecurityPolicy: a string, or
// an object whose known directives are strings.
func validateCSP(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return Errorf(EINVALID, "contentSecurityPolicy must be a string or an object")
	}
	for _, d := range cspDirectives {
		if v, ok := m[d]; ok {
			if _, ok := v.(string); !ok {
				return Errorf(EINVALID, "contentSecurityPolicy.%s must be a string", d)
			}
		}
	}
	return nil
}

// IsAbsoluteURL reports whether s is an absolute URL of at most 2048 characters.
func IsAbsoluteURL(s string) bool {
	if len(s) > 2048 {
		return false
	}
	i := strings.Index(s, ":")
	if i <= 0 {
		return false
	}
	for n, c := range s[:i] {
		isLetter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !isLetter && (n == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return !strings.ContainsAny(s, " \t\r\n")
}

// Asset is a stored file served by the server, such as an integration's icon.
type Asset struct {
	ID          string // content hash: assets are immutable
	ContentType string
	Data        []byte
}
