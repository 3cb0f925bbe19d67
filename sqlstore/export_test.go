package sqlstore

// MaxUniqueRetries exposes maxUniqueRetries to the tests of sqlstore_test.
const MaxUniqueRetries = maxUniqueRetries
