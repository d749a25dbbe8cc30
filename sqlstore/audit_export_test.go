package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/hrgate/hrgate"
)

// SetJournalMoveHookForTest runs fn in each move of the audit journal
// once the move has read its frames and let go of the journal's lock,
// until tb ends. Tests that set it do not run in parallel.
func SetJournalMoveHookForTest(tb interface{ Cleanup(func()) }, fn func()) {
	old := journalMoveHook
	journalMoveHook = fn
	tb.Cleanup(func() { journalMoveHook = old })
}

// ApplyAuditMigrationsForTest applies the audit migrations 1..upTo that
// the database lacks, so that a test can fill a trail as an older hrgate
// left it and then upgrade it. Open it without AutoMigrate.
func (l *AuditLog) ApplyAuditMigrationsForTest(ctx context.Context, upTo int) error {
	return l.db.ApplyMigrationsForTest(ctx, upTo)
}

// AppendDirectForTest appends as AppendAudit does on PostgreSQL, straight
// into the tables, on either database: on SQLite without the journal,
// which does not open on an older schema.
func (l *AuditLog) AppendDirectForTest(ctx context.Context, seal func(head hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error)) error {
	return l.appendDirect(ctx, seal)
}

// AuditSearchPlanForTest returns the database's plan for the search f as
// text. On PostgreSQL sequential scans are disabled for it, so that the
// plan of a tiny table shows whether an index can serve the search.
// It is empty when the search needs no query (an empty seq range).
func (l *AuditLog) AuditSearchPlanForTest(ctx context.Context, f hrgate.AuditFilter) (string, error) {
	if err := l.FlushAudit(ctx); err != nil {
		return "", err
	}
	q, err := l.findQuery(ctx, f)
	if err != nil || q == nil {
		return "", err
	}
	tx, err := l.db.read.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }()
	explain := "EXPLAIN QUERY PLAN "
	if l.db.dialect.name == "postgres" {
		explain = "EXPLAIN "
		if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			return "", err
		}
	}
	rows, err := tx.QueryContext(ctx, explain+l.db.dialect.rebind(q.sb.String()), q.args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var plan strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		// The last column is the step: "detail" on SQLite, the only
		// one on PostgreSQL.
		fmt.Fprintf(&plan, "%s\n", vals[len(vals)-1])
	}
	return plan.String(), rows.Err()
}
