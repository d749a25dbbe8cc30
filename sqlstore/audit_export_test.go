package sqlstore

// SetJournalMoveHookForTest runs fn in each move of the audit journal
// once the move has read its frames and let go of the journal's lock,
// until tb ends. Tests that set it do not run in parallel.
func SetJournalMoveHookForTest(tb interface{ Cleanup(func()) }, fn func()) {
	old := journalMoveHook
	journalMoveHook = fn
	tb.Cleanup(func() { journalMoveHook = old })
}
