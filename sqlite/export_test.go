package sqlite

// OpenWithCheckpoints opens the store with the checkpointer's interval and
// the WAL's restart size of a test.
var OpenWithCheckpoints = open
