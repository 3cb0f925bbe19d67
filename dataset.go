package integrations

// Dataset is a set of objects loaded into a store at once, through a
// store's bulk path (sqlstore.DB.Load), such as the seed of a benchmark.
// Objects refer to each other by id and are stored as they are: no
// validation, no access rules and no events, only the database's own
// constraints. The fields that reads fill in (Integration.Owner,
// Installation.IntegrationName and Spaces, the SpaceInstallation's
// IntegrationID, IntegrationName and OrganizationID, Member.User) are
// ignored.
type Dataset struct {
	Users              []User
	Tokens             []Token
	Organizations      []Organization
	Members            []Member
	Spaces             []Space
	Integrations       []Integration
	Installations      []Installation
	SpaceInstallations []SpaceInstallation
}
