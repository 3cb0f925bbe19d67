package sqlstore

import "integrations"

// MaxUniqueRetries exposes maxUniqueRetries to the tests of sqlstore_test.
const MaxUniqueRetries = maxUniqueRetries

// FailInDatabase runs, in the transaction of a Store's Update or View, a
// statement that the database refuses (a table that does not exist) and
// returns its error: a failure of the database's, not a refusal of the
// application's.
func FailInDatabase(t integrations.Tx) error {
	var n int
	return t.(*tx).queryRow("SELECT n FROM no_such_table").Scan(&n)
}
