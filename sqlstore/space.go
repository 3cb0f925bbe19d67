package sqlstore

import (
	"database/sql"

	"integrations"
)

const spaceColumns = `s.id, s.organization_id, s.title, s.emoji, s.icon, s.visibility, s.edit_mode, s.language, s.default_level, s.merge_rules, s.created_at, s.updated_at`

func scanSpace(sc scanner) (*integrations.Space, error) {
	var s integrations.Space
	var mergeRules sql.NullString
	var created, updated int64
	if err := sc.Scan(&s.ID, &s.OrganizationID, &s.Title, &s.Emoji, &s.Icon, &s.Visibility, &s.EditMode, &s.Language, &s.DefaultLevel, &mergeRules, &created, &updated); err != nil {
		return nil, err
	}
	if mergeRules.Valid {
		s.MergeRules = []byte(mergeRules.String)
	}
	s.CreatedAt, s.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &s, nil
}

// rawJSON stores an optional JSON value: nil stays NULL.
func rawJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func (t *tx) CreateSpace(s *integrations.Space) error {
	_, err := t.exec(`INSERT INTO spaces (id, organization_id, title, emoji, icon, visibility, edit_mode, language, default_level, merge_rules, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.OrganizationID, s.Title, s.Emoji, s.Icon, s.Visibility, s.EditMode, s.Language, s.DefaultLevel, rawJSON(s.MergeRules), micros(s.CreatedAt), micros(s.UpdatedAt))
	return t.insertErr(err, "A space with this id")
}

func (t *tx) UpdateSpace(s *integrations.Space) error {
	ok, err := affected(t.exec(`UPDATE spaces SET title = ?, emoji = ?, icon = ?, visibility = ?, edit_mode = ?, language = ?, default_level = ?, merge_rules = ?, updated_at = ? WHERE id = ?`,
		s.Title, s.Emoji, s.Icon, s.Visibility, s.EditMode, s.Language, s.DefaultLevel, rawJSON(s.MergeRules), micros(s.UpdatedAt), s.ID))
	if err != nil {
		return err
	} else if !ok {
		return integrations.Errorf(integrations.ENOTFOUND, "Space %q not found.", s.ID)
	}
	return nil
}

func (t *tx) DeleteSpace(id string) (bool, error) {
	return affected(t.exec(`DELETE FROM spaces WHERE id = ?`, id))
}

func (t *tx) Space(id string) (*integrations.Space, error) {
	return t.space(id, copyOf[integrations.Space])
}

// space is Space, handing out copy's copy (see integrationByID).
func (t *tx) space(id string, copy func(*integrations.Space) *integrations.Space) (*integrations.Space, error) {
	return ref(t, "space:"+id, true, copy, func(t *tx) (*integrations.Space, error) {
		s, err := scanSpace(t.queryRow(`SELECT `+spaceColumns+` FROM spaces s WHERE s.id = ?`, id))
		return s, notFound(err, "Space %q not found.", id)
	})
}

func (t *tx) SpaceByTitle(organizationID, title string) (*integrations.Space, error) {
	s, err := scanSpace(t.queryRow(`SELECT `+spaceColumns+` FROM spaces s WHERE s.organization_id = ? AND s.title = ? ORDER BY s.created_at, s.id LIMIT 1`, organizationID, title))
	return s, notFound(err, "Space %q not found.", title)
}

func (t *tx) Spaces(f integrations.SpaceFilter, p integrations.Page) ([]*integrations.Space, int, error) {
	var w where
	if f.OrganizationID != "" {
		w.add(`s.organization_id = ?`, f.OrganizationID)
	}
	if f.InstallationID != "" {
		w.add(`EXISTS (SELECT 1 FROM installations i JOIN integrations ig ON ig.id = i.integration_id WHERE i.id = ? AND ig.target IN `+spaceTargets+`)
			AND (EXISTS (SELECT 1 FROM installations i WHERE i.id = ? AND i.organization_id = s.organization_id AND i.space_selection = 'all')
			OR EXISTS (SELECT 1 FROM space_installations si WHERE si.installation_id = ? AND si.space_id = s.id))`, f.InstallationID, f.InstallationID, f.InstallationID)
	}
	total, err := t.count(`SELECT COUNT(*) FROM spaces s`+w.String(), w.args...)
	if err != nil {
		return nil, 0, err
	}
	order := pageClause(&w, p, "s.created_at", "s.id", cursorAt(p), false)
	rows, err := t.query(`SELECT `+spaceColumns+` FROM spaces s`+w.String()+order, w.args...)
	if err != nil {
		return nil, 0, err
	}
	list, err := scanAll(rows, scanSpace)
	return list, total, err
}
