package integrations

import (
	"context"
	"time"
)

// Store keeps the server's data. Implementations: sqlite.Open and postgres.Open.
//
// Everything happens in transactions. Update runs its function in a
// serializable read-write transaction and may run it again when the database
// reports a conflict with a concurrent transaction, or when the transaction
// that it shared with concurrent ones could not keep it (both stores group
// concurrent writes: see sqlstore), so the function must not have effects
// outside the transaction. View may run its function again too (when what it
// took from a cache turns out older than its transaction).
type Store interface {
	View(ctx context.Context, fn func(Tx) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	// UpdateLeases runs fn like Update, for the writes that row locks and
	// leases keep consistent on their own: claiming events (Tx.ClaimEvents)
	// and recording attempts under a lease (Tx.RecordAttempt). Concurrent
	// claims skip each other's rows instead of conflicting. Each statement
	// sees what committed before it began, not one snapshot for the whole
	// transaction: READ COMMITTED on PostgreSQL; on SQLite, where writers
	// take turns, it is Update.
	UpdateLeases(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Version returns a value that changes whenever a transaction commits,
	// in any process that shares the database: what is computed after reading
	// a version stays valid as long as the version does not change.
	Version(ctx context.Context) (string, error)
	// Generation returns a number that changes whenever a row changes
	// in the tables that identify callers and what they reach (tokens
	// but for their creation, users, members, organizations, spaces,
	// integrations, installations, delivery settings), in any process
	// that shares the database: what is computed from those alone after
	// reading it stays valid as long as it does not change, while other
	// writes (space installations, events) come and go.
	Generation(ctx context.Context) (int64, error)
	Close() error
}

// Tx is a transaction. Lookups of a single object return an ENOTFOUND error
// when it does not exist; creations return ECONFLICT when a unique key is
// taken. Listings return at most page.Limit items and the total count of the
// items that match the filter, ignoring paging.
type Tx interface {
	// Now is the time of the transaction, truncated to microseconds (what both
	// stores keep).
	Now() time.Time

	// Setting returns a server setting, "" when absent. InitSetting stores
	// value unless the key has one already, and returns the stored value.
	Setting(key string) (string, error)
	InitSetting(key, value string) (string, error)

	CreateUser(u *User) error
	UpdateUser(u *User) error
	// DeleteUser removes a user with its tokens and memberships, and reports
	// whether it existed.
	DeleteUser(id string) (bool, error)
	User(id string) (*User, error)
	UserByEmail(email string) (*User, error)

	CreateToken(t *Token) error
	Token(hash string) (*Token, error)
	// DeleteUserTokensExcept removes the user tokens of a user but the one
	// with the hash keep, and reports how many it removed.
	DeleteUserTokensExcept(userID, keep string) (int, error)

	CreateOrganization(o *Organization) error
	UpdateOrganization(o *Organization) error
	Organization(id string) (*Organization, error)
	OrganizationByHostname(hostname string) (*Organization, error)
	OrganizationByTitle(title string) (*Organization, error)
	Organizations(f OrganizationFilter, p Page) ([]*Organization, int, error)

	// PutMember adds a member or changes its role; JoinedAt is kept on a change.
	PutMember(m *Member) error
	Member(organizationID, userID string) (*Member, error)
	// ShareOrganization reports whether two users are members of one
	// organization.
	ShareOrganization(userID, otherID string) (bool, error)
	Members(f MemberFilter, p Page) ([]*Member, int, error)

	CreateSpace(s *Space) error
	UpdateSpace(s *Space) error
	// DeleteSpace reports whether the space existed. Run it in Update, as
	// DeleteIntegration and DeleteInstallation (migration 0010).
	DeleteSpace(id string) (bool, error)
	Space(id string) (*Space, error)
	SpaceByTitle(organizationID, title string) (*Space, error)
	Spaces(f SpaceFilter, p Page) ([]*Space, int, error)

	CreateIntegration(i *Integration) error
	UpdateIntegration(i *Integration) error
	// DeleteIntegration deletes the integration with its installations
	// and events. Run it in Update: on PostgreSQL only the conflicts of
	// serializable transactions keep an event or a space installation
	// created meanwhile from staying behind (migrations 0009 and 0010).
	DeleteIntegration(id string) (bool, error)
	// Integration finds an integration by name; its Owner is filled in.
	Integration(name string) (*Integration, error)
	IntegrationByID(id string) (*Integration, error)
	Integrations(f IntegrationFilter, p Page) ([]*Integration, int, error)
	// SpaceIntegrations lists the integrations enabled in a space, by name:
	// those that target spaces (see Integration.CanInstallOnSpace), installed
	// on the space's organization with space_selection all or a space
	// installation for it, neither paused.
	SpaceIntegrations(spaceID string, f IntegrationFilter, p Page) ([]*Integration, int, error)

	// PutAsset stores a file of an integration; DeleteAssetsExcept removes the
	// integration's other files.
	PutAsset(integrationID string, a *Asset) error
	DeleteAssetsExcept(integrationID string, keep []string) error
	Asset(integrationName, id string) (*Asset, error)

	CreateInstallation(in *Installation) error
	UpdateInstallation(in *Installation) error
	// DeleteInstallation deletes the installation with its space
	// installations. Run it in Update, as DeleteIntegration.
	DeleteInstallation(id string) (bool, error)
	// Installation and InstallationOf leave the installation's Spaces at 0:
	// access checks, their main callers, need no count, and counting costs
	// a query. CountInstallationSpaces fills it in; listings do as well.
	Installation(id string) (*Installation, error)
	InstallationOf(integrationID, organizationID string) (*Installation, error)
	CountInstallationSpaces(in *Installation) error
	Installations(f InstallationFilter, p Page) ([]*Installation, int, error)

	// CreateEvent adds an event to the outbox, with the attempts that were
	// made already (an event created failed has its one), and sets its Seq
	// by the time the transaction commits: a store may send the event with
	// the COMMIT, and report its errors (ECONFLICT for an ID taken,
	// ENOTFOUND for an unknown integration) from there.
	CreateEvent(e *Event, attempts ...*EventAttempt) error
	Event(id string) (*Event, error)
	Events(f EventFilter, p Page) ([]*Event, int, error)
	EventAttempts(eventID string) ([]*EventAttempt, error)
	// ClaimEvents leases up to limit pending events that are due at now to
	// worker until leaseUntil, oldest first. Events leased to another worker
	// whose lease has not expired are skipped: each event is taken by one
	// worker at a time, across processes.
	ClaimEvents(worker string, limit int, now, leaseUntil time.Time) ([]*Event, error)
	// AddAttempt stores an attempt of an event that no worker holds, such
	// as the one of an event that is created failed, in the same
	// transaction. The event must exist: stores need not check it.
	AddAttempt(a *EventAttempt) error
	// RecordAttempt stores an attempt and, if worker still holds the event's
	// lease, the event's new Status, Attempts and NextAttemptAt, releasing the
	// lease. It reports whether the worker still held it.
	RecordAttempt(e *Event, a *EventAttempt, worker string) (bool, error)
	// RetryEvent makes an event pending again, due at at, with a fresh budget
	// of attempts: its Attempts start again from 0 (and the number of its
	// next attempt from 1); the attempts recorded so far stay.
	RetryEvent(id string, at time.Time) error

	// InitDelivery returns an integration's delivery settings, creating them
	// with the signing secret if there are none yet. Delivery only reads
	// them: ENOTFOUND when there are none.
	InitDelivery(integrationID, signingSecret string) (*Delivery, error)
	Delivery(integrationID string) (*Delivery, error)
	UpdateDelivery(d *Delivery) error

	// DeleteExpiredTokens removes the tokens that expired before t.
	DeleteExpiredTokens(t time.Time) (int, error)

	CreateSpaceInstallation(si *SpaceInstallation) error
	// AddSpaceInstallation creates the space installation unless the
	// installation is on the space already, and reports whether it did.
	AddSpaceInstallation(si *SpaceInstallation) (bool, error)
	UpdateSpaceInstallation(si *SpaceInstallation) error
	// DeleteSpaceInstallation deletes a space installation and returns
	// what it was (its own fields: none of those that reads fill in), or
	// nil when there was none.
	DeleteSpaceInstallation(installationID, spaceID string) (*SpaceInstallation, error)
	SpaceInstallation(installationID, spaceID string) (*SpaceInstallation, error)
	SpaceInstallations(f SpaceInstallationFilter, p Page) ([]*SpaceInstallation, int, error)
}

// Page selects a page of a listing: the items after the cursor, at most Limit.
type Page struct {
	After *Cursor
	Limit int
}

// Cursor marks the last item of a page. Each listing uses the fields of its
// own order: Key for names and titles, At (microseconds) for times, and ID to
// break ties.
type Cursor struct {
	Key string `json:"k,omitempty"`
	At  int64  `json:"t,omitempty"`
	ID  string `json:"i,omitempty"`
}

// OrganizationFilter selects organizations; listings are ordered by creation.
type OrganizationFilter struct {
	MemberID string // only organizations this user belongs to; "" for all
}

// MemberFilter selects the members of an organization.
type MemberFilter struct {
	OrganizationID string
	Role           Role   // only members with this role
	Search         string // in display name and email, case-insensitive
	SortByName     bool   // by display name instead of join time
	Descending     bool
}

// SpaceFilter selects spaces; listings are ordered by creation.
type SpaceFilter struct {
	OrganizationID string
	// InstallationID keeps only the spaces on which the installation is
	// installed (all of the organization's when its space_selection is all),
	// none when its integration's target does not reach spaces.
	InstallationID string
}

// IntegrationFilter selects integrations; listings are ordered by name.
type IntegrationFilter struct {
	Search         string // in name and title, case-insensitive
	Category       string
	Scope          string
	Target         string
	Owner          string // owning organization id
	BlockDomain    string // a domain that one of its blocks unfurls
	Blocks         *bool  // true: only with blocks; false: only without
	ContentSources *bool  // true: only with content sources; false: only without

	// Visibility: public integrations are always listed. Private and unlisted
	// ones only when owned by an organization the user VisibleToUser belongs
	// to, when owned by or installed on VisibleToOrganization, when their id
	// is VisibleIntegrationID, or with AllVisible.
	VisibleToUser         string
	VisibleToOrganization string
	VisibleIntegrationID  string
	AllVisible            bool
}

// InstallationFilter selects installations; listings are ordered by creation.
type InstallationFilter struct {
	ID             string
	IntegrationID  string
	OrganizationID string
	ExternalID     string
	Search         string // in the integration's name and title
}

// SpaceInstallationFilter selects space installations; listings are ordered
// by creation.
type SpaceInstallationFilter struct {
	OrganizationID string
	IntegrationID  string
	InstallationID string
	SpaceID        string
	ExternalID     string
}
