package service

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"integrations"
)

// Publication is the body of publishIntegration: the spec's PublishIntegration.
// Fixture files use the same fields.
type Publication struct {
	Runtime               *string                      `json:"runtime"` // nil: the default; "" is refused, as the spec's enum does
	Icon                  string                       `json:"icon"`    // base64
	Title                 *string                      `json:"title"`
	Description           *string                      `json:"description"`
	Summary               string                       `json:"summary"`
	PreviewImages         []string                     `json:"previewImages"` // base64
	Visibility            *string                      `json:"visibility"`
	Target                *string                      `json:"target"`
	Scopes                []string                     `json:"scopes"`
	Categories            []string                     `json:"categories"`
	Blocks                []integrations.Block         `json:"blocks"`
	ContentSources        []integrations.ContentSource `json:"contentSources"`
	ExternalLinks         []integrations.ExternalLink  `json:"externalLinks"`
	Configurations        integrations.Configurations  `json:"configurations"`
	Script                *string                      `json:"script"`
	Organization          string                       `json:"organization"`
	Secrets               map[string]string            `json:"secrets"`
	ContentSecurityPolicy json.RawMessage              `json:"contentSecurityPolicy"`
}

// Integration builds the integration that the publication describes, with
// its decoded icon and preview images, and validates it. The spec's required
// fields are required unless lenient (fixture files may leave out script and
// description).
func (p *Publication) Integration(name string, lenient bool) (*integrations.Integration, []*integrations.Asset, error) {
	var missing []string
	if p.Organization == "" {
		missing = append(missing, "organization")
	}
	if p.Title == nil {
		missing = append(missing, "title")
	}
	if p.Scopes == nil && !lenient {
		missing = append(missing, "scopes")
	}
	if p.Description == nil && !lenient {
		missing = append(missing, "description")
	}
	if p.Script == nil && !lenient {
		missing = append(missing, "script")
	}
	if len(missing) > 0 {
		return nil, nil, integrations.Errorf(integrations.EINVALID, "Missing required field(s): %s.", strings.Join(missing, ", "))
	}
	i := &integrations.Integration{
		Name: name, Runtime: orDefault(p.Runtime, "v1"), Title: *p.Title, Description: deref(p.Description), Summary: p.Summary,
		Visibility: orDefault(p.Visibility, "private"), Target: orDefault(p.Target, "all"), Scopes: p.Scopes, Categories: p.Categories,
		Blocks: p.Blocks, ContentSources: p.ContentSources, ExternalLinks: p.ExternalLinks, Configurations: p.Configurations,
		ContentSecurityPolicy: p.ContentSecurityPolicy, Script: deref(p.Script), Secrets: p.Secrets,
	}
	if len(p.PreviewImages) > integrations.MaxPreviewImages {
		return nil, nil, integrations.Errorf(integrations.EINVALID, "previewImages has more than %d items.", integrations.MaxPreviewImages)
	}
	var assets []*integrations.Asset
	if p.Icon != "" {
		a, err := decodeImage("icon", p.Icon, integrations.MaxIconBytes)
		if err != nil {
			return nil, nil, err
		}
		i.Icon = a.ID
		assets = append(assets, a)
	}
	for n, img := range p.PreviewImages {
		a, err := decodeImage("previewImages["+strconv.Itoa(n)+"]", img, integrations.MaxPreviewBytes)
		if err != nil {
			return nil, nil, err
		}
		i.PreviewImages = append(i.PreviewImages, a.ID)
		assets = append(assets, a)
	}
	if err := i.Validate(); err != nil {
		return nil, nil, err
	}
	return i, assets, nil
}

// orDefault returns def for an absent field, else its value, even empty.
func orDefault(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// imageTypes are the images accepted for icons and previews, with the
// extension their assets get.
var imageTypes = map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp", "image/svg+xml": ".svg"}

// decodeImage decodes a base64 image into an asset named by its content hash.
func decodeImage(field, b64 string, maxBytes int) (*integrations.Asset, error) {
	// Accept data URLs as well as bare base64.
	if strings.HasPrefix(b64, "data:") {
		if _, rest, ok := strings.Cut(b64, ","); ok {
			b64 = rest
		}
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return nil, integrations.Errorf(integrations.EINVALID, "%s is not valid base64.", field)
		}
	}
	if len(data) > maxBytes {
		return nil, integrations.Errorf(integrations.EINVALID, "%s is larger than %d bytes.", field, maxBytes)
	}
	ctype := http.DetectContentType(data)
	if strings.HasPrefix(ctype, "text/xml") || strings.HasPrefix(ctype, "text/plain") {
		if strings.Contains(string(data[:min(len(data), 512)]), "<svg") {
			ctype = "image/svg+xml"
		}
	}
	ext, ok := imageTypes[strings.Split(ctype, ";")[0]]
	if !ok {
		return nil, integrations.Errorf(integrations.EINVALID, "%s must be a PNG, JPEG, GIF, WebP or SVG image.", field)
	}
	sum := sha256.Sum256(data)
	return &integrations.Asset{ID: hex.EncodeToString(sum[:16]) + ext, ContentType: strings.Split(ctype, ";")[0], Data: data}, nil
}

// PublishIntegration creates or updates an integration. The caller must be an
// admin of the owning organization, named by id or hostname; publishing again
// bumps the version. A name owned by another organization is refused.
func (s *Service) PublishIntegration(ctx context.Context, name string, p *Publication) (Integration, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return Integration{}, err
	}
	if err := checkName(name); err != nil {
		return Integration{}, err
	}
	i, assets, err := p.Integration(name, false)
	if err != nil {
		return Integration{}, err
	}
	var out Integration
	err = s.update(ctx, func(tx integrations.Tx) error {
		r := newRoles(tx, c)
		org, err := r.organizationByIDOrHostname(p.Organization)
		if err != nil {
			return err
		}
		if org.Role != integrations.RoleAdmin {
			return forbidden("Only admins of organization %q may publish integrations for it.", org.ID)
		}
		err = publish(tx, i, org.Organization, assets, func(existing *integrations.Integration) error {
			if existing.OrganizationID != org.ID {
				return integrations.Errorf(integrations.ECONFLICT, "The name %q is taken by an integration of another organization.", name)
			}
			return nil
		}, &out, org.Role)
		if err != nil || i.Version == 1 {
			return err
		}
		return recomputeStatuses(tx, i)
	})
	return out, err
}

// recomputeStatuses brings the status of an integration's installations and
// space installations in line with the forms of its new publication: pending
// while a required property has no value, active otherwise; paused ones stay
// paused. Each change is told to the integration as installation_setup (or
// space_installation_setup) with the previous status, as a PATCH does.
func recomputeStatuses(tx integrations.Tx, i *integrations.Integration) error {
	err := forEach(func(p integrations.Page) ([]*integrations.Installation, int, error) {
		return tx.Installations(integrations.InstallationFilter{IntegrationID: i.ID}, p)
	}, installationCursor, func(in *integrations.Installation) error {
		status := integrations.RecomputedStatus(in.Status, i.Configurations.Account, in.Configuration)
		if status == in.Status {
			return nil
		}
		before := &previous{Status: in.Status, Configuration: configOrEmpty(in.Configuration)}
		in.Status, in.UpdatedAt = status, tx.Now()
		if err := tx.UpdateInstallation(in); err != nil {
			return err
		}
		return emitInstallationSetup(tx, in, before)
	})
	if err != nil {
		return err
	}
	return forEach(func(p integrations.Page) ([]*integrations.SpaceInstallation, int, error) {
		return tx.SpaceInstallations(integrations.SpaceInstallationFilter{IntegrationID: i.ID}, p)
	}, spaceInstallationCursor, func(si *integrations.SpaceInstallation) error {
		status := integrations.RecomputedStatus(si.Status, i.Configurations.Space, si.Configuration)
		if status == si.Status {
			return nil
		}
		before := &previous{Status: si.Status, Configuration: configOrEmpty(si.Configuration)}
		si.Status, si.UpdatedAt = status, tx.Now()
		if err := tx.UpdateSpaceInstallation(si); err != nil {
			return err
		}
		return emitSpaceInstallationSetup(tx, si, before)
	})
}

// publish stores a new version of an integration: a new one, or the next
// version of the one of that name if check lets it.
func publish(tx integrations.Tx, i *integrations.Integration, owner *integrations.Organization, assets []*integrations.Asset,
	check func(existing *integrations.Integration) error, out *Integration, role integrations.Role) error {
	i.OrganizationID = owner.ID
	i.UpdatedAt = tx.Now()
	existing, err := tx.Integration(i.Name)
	switch {
	case err == nil:
		if err := check(existing); err != nil {
			return err
		}
		i.ID, i.Version, i.Verified, i.CreatedAt = existing.ID, existing.Version+1, existing.Verified, existing.CreatedAt
		err = tx.UpdateIntegration(i)
	case integrations.ErrorCode(err) == integrations.ENOTFOUND:
		i.ID, i.Version, i.CreatedAt = integrations.NewID(), 1, tx.Now()
		err = tx.CreateIntegration(i)
	}
	if err != nil {
		return err
	}
	keep := make([]string, len(assets))
	for n, a := range assets {
		if err := tx.PutAsset(i.ID, a); err != nil {
			return err
		}
		keep[n] = a.ID
	}
	if err := tx.DeleteAssetsExcept(i.ID, keep); err != nil {
		return err
	}
	i.Owner = owner
	*out = Integration{i, role}
	return nil
}

// PublishFromFixture stores an integration for the seed command, which acts
// as the server admin: no access rules apply.
func PublishFromFixture(tx integrations.Tx, i *integrations.Integration, owner *integrations.Organization, assets []*integrations.Asset) error {
	var out Integration
	return publish(tx, i, owner, assets, func(*integrations.Integration) error { return nil }, &out, "")
}

// organizationByIDOrHostname loads an organization the caller may see by id,
// or else by hostname.
func (r *roles) organizationByIDOrHostname(ref string) (Org, error) {
	if integrations.ValidID(ref) {
		if o, err := r.organization(ref); integrations.ErrorCode(err) != integrations.ENOTFOUND {
			return o, err
		}
		if o, err := r.tx.OrganizationByHostname(ref); err == nil {
			return r.organization(o.ID)
		}
	}
	return Org{}, errNotFound("Organization", ref)
}

// integration loads an integration the caller may see by name: public and
// unlisted ones for everyone, private ones for the owner's members and for the
// integration's own tokens.
func (r *roles) integration(name string) (Integration, error) {
	if err := checkName(name); err != nil {
		return Integration{}, err
	}
	i, err := r.tx.Integration(name)
	if err != nil {
		return Integration{}, notFoundAs(err, "Integration", name)
	}
	role, visible, err := r.of(i.OrganizationID)
	if err != nil {
		return Integration{}, err
	}
	c := r.caller
	own := (c.IsIntegration() || c.IsInstallation()) && c.IntegrationID == i.ID
	if i.Visibility == "private" && !own && !(c.IsUser() && visible) {
		return Integration{}, errNotFound("Integration", name)
	}
	return Integration{i, role}, nil
}

// Integration returns an integration the caller may see.
func (s *Service) Integration(ctx context.Context, name string) (Integration, error) {
	var out Integration
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		var err error
		out, err = newRoles(tx, caller(ctx)).integration(name)
		return err
	})
	return out, err
}

// IntegrationQuery filters a listing of integrations.
type IntegrationQuery struct {
	Search, Category, Scope, Target, Owner, BlockDomain string
	Blocks, ContentSources                              *bool
}

func (q IntegrationQuery) filter() integrations.IntegrationFilter {
	return integrations.IntegrationFilter{Search: q.Search, Category: q.Category, Scope: q.Scope, Target: q.Target,
		Owner: q.Owner, BlockDomain: q.BlockDomain, Blocks: q.Blocks, ContentSources: q.ContentSources}
}

func (q IntegrationQuery) scope(op string, c *integrations.Caller, more ...string) []string {
	b := func(p *bool) string {
		if p == nil {
			return ""
		}
		return map[bool]string{true: "true", false: "false"}[*p]
	}
	return append([]string{op, q.Search, q.Category, q.Scope, q.Target, q.Owner, q.BlockDomain, b(q.Blocks), b(q.ContentSources), c.ID()}, more...)
}

// Integrations lists the integrations the caller may list, by name: public
// ones, and the private and unlisted ones of the caller's organizations (or
// the caller's own integration).
func (s *Service) Integrations(ctx context.Context, q IntegrationQuery, p Paging) (List[Integration], error) {
	c := caller(ctx)
	f := q.filter()
	switch {
	case c.IsStaff():
		f.AllVisible = true
	case c.IsUser():
		f.VisibleToUser = c.User.ID
	default:
		f.VisibleIntegrationID = c.IntegrationID
	}
	var out List[Integration]
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		found, err := list(s, p, q.scope("integrations", c), integrationCursor, func(page integrations.Page) ([]*integrations.Integration, int, error) {
			return tx.Integrations(f, page)
		})
		if err != nil {
			return err
		}
		out, err = withOwnerRoles(newRoles(tx, c), found)
		return err
	})
	return out, err
}

// UnpublishIntegration deletes an integration with its installations. It
// reports false when the integration did not exist or the caller may not see it.
func (s *Service) UnpublishIntegration(ctx context.Context, name string) (bool, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return false, err
	}
	deleted := false
	err := s.update(ctx, func(tx integrations.Tx) error {
		i, err := newRoles(tx, c).integration(name)
		if integrations.ErrorCode(err) == integrations.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		if i.OwnerRole != integrations.RoleAdmin {
			return forbidden("Only admins of organization %q may unpublish %q.", i.OrganizationID, name)
		}
		deleted, err = tx.DeleteIntegration(i.ID)
		return err
	})
	return deleted, err
}

// Asset returns a file of an integration: its icon or a preview image.
// Assets are public, as GitBook's are: their names are content hashes.
func (s *Service) Asset(ctx context.Context, name, id string) (*integrations.Asset, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var a *integrations.Asset
	err := s.store.View(ctx, func(tx integrations.Tx) error {
		var err error
		a, err = tx.Asset(name, id)
		return err
	})
	return a, err
}

// CreateIntegrationToken mints a token of the integration (the spec's
// "integration" scheme). Admins of the owning organization may.
func (s *Service) CreateIntegrationToken(ctx context.Context, name string) (string, error) {
	c := caller(ctx)
	if err := needUser(c); err != nil {
		return "", err
	}
	secret := integrations.NewTokenSecret(integrations.TokenIntegration)
	err := s.update(ctx, func(tx integrations.Tx) error {
		i, err := newRoles(tx, c).integration(name)
		if err != nil {
			return err
		}
		if i.OwnerRole != integrations.RoleAdmin {
			return forbidden("Only admins of organization %q may create tokens for %q.", i.OrganizationID, name)
		}
		return tx.CreateToken(&integrations.Token{Hash: integrations.HashToken(secret), Kind: integrations.TokenIntegration, IntegrationID: i.ID, CreatedAt: tx.Now()})
	})
	return secret, err
}
