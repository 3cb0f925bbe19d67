package sqlstore

import (
	"encoding/json"
	"strings"

	"integrations"
)

const orgColumns = `o.id, o.title, COALESCE(o.hostname, ''), o.email_domains, o.created_at`

func scanOrganization(s scanner) (*integrations.Organization, error) {
	var o integrations.Organization
	var domains string
	var created int64
	if err := s.Scan(&o.ID, &o.Title, &o.Hostname, &domains, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(domains), &o.EmailDomains); err != nil {
		return nil, err
	}
	o.CreatedAt = fromMicros(created)
	return &o, nil
}

// jsonText encodes v for a JSON text column; nil slices become [].
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with values that always encode
	}
	if string(b) == "null" {
		return "[]"
	}
	return string(b)
}

func (t *tx) CreateOrganization(o *integrations.Organization) error {
	_, err := t.exec(`INSERT INTO organizations (id, title, hostname, email_domains, created_at) VALUES (?, ?, ?, ?, ?)`,
		o.ID, o.Title, nullable(o.Hostname), jsonText(o.EmailDomains), micros(o.CreatedAt))
	return t.insertErr(err, "An organization with this id or hostname")
}

func (t *tx) UpdateOrganization(o *integrations.Organization) error {
	ok, err := affected(t.exec(`UPDATE organizations SET title = ?, hostname = ?, email_domains = ? WHERE id = ?`,
		o.Title, nullable(o.Hostname), jsonText(o.EmailDomains), o.ID))
	if err != nil {
		return t.insertErr(err, "An organization with this hostname")
	} else if !ok {
		return integrations.Errorf(integrations.ENOTFOUND, "Organization %q not found.", o.ID)
	}
	return nil
}

func (t *tx) Organization(id string) (*integrations.Organization, error) {
	return ref(t, "organization:"+id, true, copyOf[integrations.Organization], func(t *tx) (*integrations.Organization, error) {
		o, err := scanOrganization(t.queryRow(`SELECT `+orgColumns+` FROM organizations o WHERE o.id = ?`, id))
		return o, notFound(err, "Organization %q not found.", id)
	})
}

func (t *tx) OrganizationByHostname(hostname string) (*integrations.Organization, error) {
	o, err := scanOrganization(t.queryRow(`SELECT `+orgColumns+` FROM organizations o WHERE o.hostname = ?`, hostname))
	return o, notFound(err, "Organization %q not found.", hostname)
}

func (t *tx) OrganizationByTitle(title string) (*integrations.Organization, error) {
	o, err := scanOrganization(t.queryRow(`SELECT `+orgColumns+` FROM organizations o WHERE o.title = ? ORDER BY o.created_at, o.id LIMIT 1`, title))
	return o, notFound(err, "Organization %q not found.", title)
}

func (t *tx) Organizations(f integrations.OrganizationFilter, p integrations.Page) ([]*integrations.Organization, int, error) {
	var w where
	if f.MemberID != "" {
		w.add(`o.id IN (SELECT organization_id FROM members WHERE user_id = ?)`, f.MemberID)
	}
	total, err := t.count(`SELECT COUNT(*) FROM organizations o`+w.String(), w.args...)
	if err != nil {
		return nil, 0, err
	}
	order := pageClause(&w, p, "o.created_at", "o.id", cursorAt(p), false)
	rows, err := t.query(`SELECT `+orgColumns+` FROM organizations o`+w.String()+order, w.args...)
	if err != nil {
		return nil, 0, err
	}
	list, err := scanAll(rows, scanOrganization)
	return list, total, err
}

// cursorAt returns the time of the page's cursor, for listings ordered by time.
func cursorAt(p integrations.Page) any {
	if p.After == nil {
		return nil
	}
	return p.After.At
}

// cursorKey returns the key of the page's cursor, for listings ordered by a name.
func cursorKey(p integrations.Page) any {
	if p.After == nil {
		return nil
	}
	return p.After.Key
}

// scanAll scans every row with scan and closes rows.
func scanAll[T any](rows interface {
	scanner
	Next() bool
	Err() error
	Close() error
}, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var list []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, rows.Err()
}

func (t *tx) PutMember(m *integrations.Member) error {
	_, err := t.exec(`INSERT INTO members (organization_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role`,
		m.OrganizationID, m.UserID, string(m.Role), micros(m.JoinedAt))
	return t.insertErr(err, "This member")
}

const memberColumns = `m.organization_id, m.user_id, m.role, m.joined_at, ` + userColumns

func scanMember(s scanner) (*integrations.Member, error) {
	var m integrations.Member
	var u integrations.User
	var role string
	var joined, created int64
	var staff int
	if err := s.Scan(&m.OrganizationID, &m.UserID, &role, &joined, &u.ID, &u.DisplayName, &u.Email, &u.PhotoURL, &staff, &created); err != nil {
		return nil, err
	}
	m.Role = integrations.Role(role)
	m.JoinedAt = fromMicros(joined)
	u.Staff, u.CreatedAt = staff != 0, fromMicros(created)
	m.User = &u
	return &m, nil
}

func (t *tx) Member(organizationID, userID string) (*integrations.Member, error) {
	return ref(t, "member:"+organizationID+"/"+userID, true, copyMember, func(t *tx) (*integrations.Member, error) {
		m, err := scanMember(t.queryRow(`SELECT `+memberColumns+` FROM members m JOIN users u ON u.id = m.user_id WHERE m.organization_id = ? AND m.user_id = ?`, organizationID, userID))
		return m, notFound(err, "User %q is not a member of organization %q.", userID, organizationID)
	})
}

func copyMember(m *integrations.Member) *integrations.Member {
	c := *m
	if m.User != nil {
		u := *m.User
		c.User = &u
	}
	return &c
}

func (t *tx) ShareOrganization(userID, otherID string) (bool, error) {
	n, err := t.count(`SELECT COUNT(*) FROM members m WHERE m.user_id = ?
		AND m.organization_id IN (SELECT o.organization_id FROM members o WHERE o.user_id = ?)`, userID, otherID)
	return n > 0, err
}

func (t *tx) Members(f integrations.MemberFilter, p integrations.Page) ([]*integrations.Member, int, error) {
	var w where
	w.add(`m.organization_id = ?`, f.OrganizationID)
	if f.Role != "" {
		w.add(`m.role = ?`, string(f.Role))
	}
	if f.Search != "" {
		w.add(`u.search LIKE ? ESCAPE '\'`, likePattern(strings.ToLower(f.Search)))
	}
	const from = ` FROM members m JOIN users u ON u.id = m.user_id`
	total, err := t.count(`SELECT COUNT(*)`+from+w.String(), w.args...)
	if err != nil {
		return nil, 0, err
	}
	var order string
	if f.SortByName {
		order = pageClause(&w, p, "u.display_name", "m.user_id", cursorKey(p), f.Descending)
	} else {
		order = pageClause(&w, p, "m.joined_at", "m.user_id", cursorAt(p), f.Descending)
	}
	rows, err := t.query(`SELECT `+memberColumns+from+w.String()+order, w.args...)
	if err != nil {
		return nil, 0, err
	}
	list, err := scanAll(rows, scanMember)
	return list, total, err
}
