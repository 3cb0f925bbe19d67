package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"integrations"
)

// The columns of installations joined with their integration as i, and the
// count of spaces: every space of the organization when the installation
// selects all of them, its space installations otherwise.
const (
	installationRowColumns = `inst.id, inst.integration_id, inst.organization_id, inst.status, inst.space_selection, inst.site_selection,
	inst.configuration, inst.external_ids, inst.created_at, inst.updated_at, i.name`
	installationSpaces = `CASE WHEN inst.space_selection = 'all'
		THEN (SELECT COUNT(*) FROM spaces s WHERE s.organization_id = inst.organization_id)
		ELSE (SELECT COUNT(*) FROM space_installations si WHERE si.installation_id = inst.id) END`
	installationColumns = installationRowColumns + `, ` + installationSpaces
)

const installationFrom = ` FROM installations inst JOIN integrations i ON i.id = inst.integration_id`

func scanInstallation(s scanner) (*integrations.Installation, error) {
	var in integrations.Installation
	return scanInstallationInto(s, &in, &in.Spaces)
}

// scanInstallationRow scans the installationRowColumns alone.
func scanInstallationRow(s scanner) (*integrations.Installation, error) {
	var in integrations.Installation
	return scanInstallationInto(s, &in)
}

func scanInstallationInto(s scanner, in *integrations.Installation, more ...any) (*integrations.Installation, error) {
	var status, config, ids string
	var created, updated int64
	if err := s.Scan(append([]any{&in.ID, &in.IntegrationID, &in.OrganizationID, &status, &in.SpaceSelection, &in.SiteSelection,
		&config, &ids, &created, &updated, &in.IntegrationName}, more...)...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(ids), &in.ExternalIDs); err != nil {
		return nil, err
	}
	in.Status = integrations.Status(status)
	in.Configuration = json.RawMessage(config)
	in.CreatedAt, in.UpdatedAt = fromMicros(created), fromMicros(updated)
	return in, nil
}

// configText stores configuration values; none is an empty object.
func configText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

func (t *tx) CreateInstallation(in *integrations.Installation) error {
	_, err := t.exec(`INSERT INTO installations (id, integration_id, organization_id, status, space_selection, site_selection, configuration, external_ids, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.ID, in.IntegrationID, in.OrganizationID, string(in.Status), in.SpaceSelection, in.SiteSelection,
		configText(in.Configuration), jsonText(in.ExternalIDs), micros(in.CreatedAt), micros(in.UpdatedAt))
	if err := t.insertErr(err, "An installation of this integration on this organization"); err != nil {
		return err
	}
	return t.addExternalIDs(`installation_external_ids`, []string{"installation_id"}, []any{in.ID}, in.ExternalIDs)
}

// setExternalIDs replaces the external ids of an installation or space
// installation, kept in their own table so that both databases filter on
// them the same way.
func (t *tx) setExternalIDs(table string, keyCols []string, key []any, ids []string) error {
	var w where
	for n, c := range keyCols {
		w.add(c+` = ?`, key[n])
	}
	if _, err := t.exec(`DELETE FROM `+table+w.String(), w.args...); err != nil {
		return err
	}
	return t.addExternalIDs(table, keyCols, key, ids)
}

// addExternalIDs stores the external ids of a new installation or space
// installation: there are none to replace (those of a deleted one went with
// it, by their foreign key).
func (t *tx) addExternalIDs(table string, keyCols []string, key []any, ids []string) error {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		cols := strings.Join(keyCols, ", ") + ", external_id"
		if _, err := t.exec(`INSERT INTO `+table+` (`+cols+`) VALUES (`+placeholders(len(keyCols)+1)+`)`, append(append([]any{}, key...), id)...); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) UpdateInstallation(in *integrations.Installation) error {
	ok, err := affected(t.exec(`UPDATE installations SET status = ?, space_selection = ?, site_selection = ?, configuration = ?, external_ids = ?, updated_at = ? WHERE id = ?`,
		string(in.Status), in.SpaceSelection, in.SiteSelection, configText(in.Configuration), jsonText(in.ExternalIDs), micros(in.UpdatedAt), in.ID))
	if err != nil {
		return err
	} else if !ok {
		return integrations.Errorf(integrations.ENOTFOUND, "Installation %q not found.", in.ID)
	}
	return t.setExternalIDs(`installation_external_ids`, []string{"installation_id"}, []any{in.ID}, in.ExternalIDs)
}

func (t *tx) DeleteInstallation(id string) (bool, error) {
	return affected(t.exec(`DELETE FROM installations WHERE id = ?`, id))
}

// Installation and InstallationOf take the installation's row from the
// reference cache; its count of spaces, which enabling and disabling change,
// is left to CountInstallationSpaces.
func (t *tx) Installation(id string) (*integrations.Installation, error) {
	return t.installation(id, copyInstallation)
}

// installation is Installation, handing out copy's copy (see
// integrationByID).
func (t *tx) installation(id string, copy func(*integrations.Installation) *integrations.Installation) (*integrations.Installation, error) {
	return ref(t, "installation:"+id, true, copy, func(t *tx) (*integrations.Installation, error) {
		in, err := scanInstallationRow(t.queryRow(`SELECT `+installationRowColumns+installationFrom+` WHERE inst.id = ?`, id))
		return in, notFound(err, "Installation %q not found.", id)
	})
}

func (t *tx) InstallationOf(integrationID, organizationID string) (*integrations.Installation, error) {
	return ref(t, "installationOf:"+integrationID+"/"+organizationID, true, copyInstallation, func(t *tx) (*integrations.Installation, error) {
		in, err := scanInstallationRow(t.queryRow(`SELECT `+installationRowColumns+installationFrom+` WHERE inst.integration_id = ? AND inst.organization_id = ?`, integrationID, organizationID))
		return in, notFound(err, "The integration is not installed on organization %q.", organizationID)
	})
}

func (t *tx) CountInstallationSpaces(in *integrations.Installation) error {
	err := t.queryRow(`SELECT `+installationSpaces+` FROM installations inst WHERE inst.id = ?`, in.ID).Scan(&in.Spaces)
	return notFound(err, "Installation %q not found.", in.ID)
}

func copyInstallation(in *integrations.Installation) *integrations.Installation {
	c := *in
	return &c
}

func (t *tx) Installations(f integrations.InstallationFilter, p integrations.Page) ([]*integrations.Installation, int, error) {
	var w where
	if f.ID != "" {
		w.add(`inst.id = ?`, f.ID)
	}
	if f.IntegrationID != "" {
		w.add(`inst.integration_id = ?`, f.IntegrationID)
	}
	if f.OrganizationID != "" {
		w.add(`inst.organization_id = ?`, f.OrganizationID)
	}
	if f.ExternalID != "" {
		w.add(`EXISTS (SELECT 1 FROM installation_external_ids x WHERE x.installation_id = inst.id AND x.external_id = ?)`, f.ExternalID)
	}
	if f.Search != "" {
		w.add(`i.search LIKE ? ESCAPE '\'`, likePattern(strings.ToLower(f.Search)))
	}
	total, err := t.count(`SELECT COUNT(*)`+installationFrom+w.String(), w.args...)
	if err != nil {
		return nil, 0, err
	}
	order := pageClause(&w, p, "inst.created_at", "inst.id", cursorAt(p), false)
	rows, err := t.query(`SELECT `+installationColumns+installationFrom+w.String()+order, w.args...)
	if err != nil {
		return nil, 0, err
	}
	list, err := scanAll(rows, scanInstallation)
	return list, total, err
}

const (
	spaceInstallationRowColumns = `si.installation_id, si.space_id, si.status, si.configuration, si.external_ids, si.created_at, si.updated_at`
	spaceInstallationColumns    = spaceInstallationRowColumns + `, inst.integration_id, i.name, inst.organization_id`
)

const spaceInstallationFrom = ` FROM space_installations si JOIN installations inst ON inst.id = si.installation_id JOIN integrations i ON i.id = inst.integration_id`

func scanSpaceInstallation(s scanner) (*integrations.SpaceInstallation, error) {
	var si integrations.SpaceInstallation
	var status, config, ids string
	var created, updated int64
	if err := s.Scan(&si.InstallationID, &si.SpaceID, &status, &config, &ids, &created, &updated, &si.IntegrationID, &si.IntegrationName, &si.OrganizationID); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(ids), &si.ExternalIDs); err != nil {
		return nil, err
	}
	si.Status = integrations.Status(status)
	si.Configuration = json.RawMessage(config)
	si.CreatedAt, si.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &si, nil
}

const insertSpaceInstallation = `INSERT INTO space_installations (installation_id, space_id, status, configuration, external_ids, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`

func (t *tx) CreateSpaceInstallation(si *integrations.SpaceInstallation) error {
	_, err := t.exec(insertSpaceInstallation, spaceInstallationArgs(si)...)
	if err := t.insertErr(err, "This space installation"); err != nil {
		return err
	}
	if err := t.spaceInstallationRefs(si); err != nil {
		return err
	}
	return t.addExternalIDs(`space_installation_external_ids`, []string{"installation_id", "space_id"}, []any{si.InstallationID, si.SpaceID}, si.ExternalIDs)
}

// AddSpaceInstallation creates in one statement what enabling an
// integration on a space would otherwise look up first.
func (t *tx) AddSpaceInstallation(si *integrations.SpaceInstallation) (bool, error) {
	created, err := affected(t.exec(insertSpaceInstallation+` ON CONFLICT DO NOTHING`, spaceInstallationArgs(si)...))
	if err := t.insertErr(err, "This space installation"); err != nil || !created {
		return false, err
	}
	if err := t.spaceInstallationRefs(si); err != nil {
		return false, err
	}
	return true, t.addExternalIDs(`space_installation_external_ids`, []string{"installation_id", "space_id"}, []any{si.InstallationID, si.SpaceID}, si.ExternalIDs)
}

// spaceInstallationRefs fails with ENOTFOUND unless the installation and
// the space of a new space installation exist in the transaction's
// snapshot. On PostgreSQL no foreign key checks them (migration 0010): see
// eventIntegration, which does the same for an event's integration. It
// runs after the insert, which fails with the transaction if it does: the
// insert, sent with the BEGIN, reads the generation at which the lookups
// are made, where lookups before it would need a reading of their own in a
// transaction that looked nothing up before (the service looks both up
// first, and the lookups here find what it read).
func (t *tx) spaceInstallationRefs(si *integrations.SpaceInstallation) error {
	return t.refused(t.spaceInstallationRefsExist(si))
}

func (t *tx) spaceInstallationRefsExist(si *integrations.SpaceInstallation) error {
	if !t.perStatement {
		if _, err := t.installation(si.InstallationID, shared); err != nil {
			return err
		}
		_, err := t.space(si.SpaceID, shared)
		return err
	}
	if err := t.lockedRow("installations", "Installation", si.InstallationID); err != nil {
		return err
	}
	return t.lockedRow("spaces", "Space", si.SpaceID)
}

func spaceInstallationArgs(si *integrations.SpaceInstallation) []any {
	return []any{si.InstallationID, si.SpaceID, string(si.Status), configText(si.Configuration), jsonText(si.ExternalIDs), micros(si.CreatedAt), micros(si.UpdatedAt)}
}

func (t *tx) UpdateSpaceInstallation(si *integrations.SpaceInstallation) error {
	ok, err := affected(t.exec(`UPDATE space_installations SET status = ?, configuration = ?, external_ids = ?, updated_at = ? WHERE installation_id = ? AND space_id = ?`,
		string(si.Status), configText(si.Configuration), jsonText(si.ExternalIDs), micros(si.UpdatedAt), si.InstallationID, si.SpaceID))
	if err != nil {
		return err
	} else if !ok {
		return integrations.Errorf(integrations.ENOTFOUND, "The installation is not installed on space %q.", si.SpaceID)
	}
	return t.setExternalIDs(`space_installation_external_ids`, []string{"installation_id", "space_id"}, []any{si.InstallationID, si.SpaceID}, si.ExternalIDs)
}

func (t *tx) DeleteSpaceInstallation(installationID, spaceID string) (*integrations.SpaceInstallation, error) {
	// One row at most (the primary key): queryRow, which a transaction
	// can send with its BEGIN.
	si, err := scanSpaceInstallation(t.queryRow(`DELETE FROM space_installations WHERE installation_id = ? AND space_id = ?
		RETURNING installation_id, space_id, status, configuration, external_ids, created_at, updated_at, '', '', ''`, installationID, spaceID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return si, err
}

// SpaceInstallation reads the space installation's own row; what it tells
// of its installation comes from Installation, through the reference cache.
func (t *tx) SpaceInstallation(installationID, spaceID string) (*integrations.SpaceInstallation, error) {
	si, err := scanSpaceInstallation(t.queryRow(`SELECT `+spaceInstallationRowColumns+`, '', '', '' FROM space_installations si WHERE si.installation_id = ? AND si.space_id = ?`, installationID, spaceID))
	if err != nil {
		return nil, notFound(err, "The installation is not installed on space %q.", spaceID)
	}
	in, err := t.Installation(installationID)
	if err != nil {
		return nil, err
	}
	si.IntegrationID, si.IntegrationName, si.OrganizationID = in.IntegrationID, in.IntegrationName, in.OrganizationID
	return si, nil
}

func (t *tx) SpaceInstallations(f integrations.SpaceInstallationFilter, p integrations.Page) ([]*integrations.SpaceInstallation, int, error) {
	var w where
	if f.OrganizationID != "" {
		w.add(`inst.organization_id = ?`, f.OrganizationID)
	}
	if f.IntegrationID != "" {
		w.add(`inst.integration_id = ?`, f.IntegrationID)
	}
	if f.InstallationID != "" {
		w.add(`si.installation_id = ?`, f.InstallationID)
	}
	if f.SpaceID != "" {
		w.add(`si.space_id = ?`, f.SpaceID)
	}
	if f.ExternalID != "" {
		w.add(`EXISTS (SELECT 1 FROM space_installation_external_ids x WHERE x.installation_id = si.installation_id AND x.space_id = si.space_id AND x.external_id = ?)`, f.ExternalID)
	}
	total, err := t.count(`SELECT COUNT(*)`+spaceInstallationFrom+w.String(), w.args...)
	if err != nil {
		return nil, 0, err
	}
	// Space installations have no id of their own: ties on creation time are
	// broken by installation and space, joined into one key.
	order := pageClause(&w, p, "si.created_at", spaceInstallationKey, cursorAt(p), false)
	rows, err := t.query(`SELECT `+spaceInstallationColumns+spaceInstallationFrom+w.String()+order, w.args...)
	if err != nil {
		return nil, 0, err
	}
	list, err := scanAll(rows, scanSpaceInstallation)
	return list, total, err
}

// spaceInstallationKey is the unique key of a space installation as one
// string, for paging; '/' appears in neither id.
const spaceInstallationKey = `(si.installation_id || '/' || si.space_id)`
