package sqldb

import (
	"context"
	"database/sql"
	"fmt"
)

// PurgeChunk bounds one DELETE of a purge, so that a large purge never
// holds long locks.
const PurgeChunk = 1000

// PurgeQuery is a DELETE of at most PurgeChunk rows of table that match
// where (whose arguments the caller passes to Purge), by order first when
// order is not empty. MySQL takes no LIMIT in an IN subquery but one on
// DELETE; PostgreSQL and SQLite the reverse, so there the rows go by key
// (one column, or several comma-separated) from a subquery.
func PurgeQuery(d Dialect, table, key, where, order string) string {
	if order != "" {
		order = " ORDER BY " + order
	}
	if d == MySQL {
		return fmt.Sprintf("DELETE FROM %s WHERE %s%s LIMIT %d", table, where, order, PurgeChunk)
	}
	return fmt.Sprintf("DELETE FROM %s WHERE (%s) IN (SELECT %s FROM %s WHERE %s%s LIMIT %d)",
		table, key, key, table, where, order, PurgeChunk)
}

// Purge runs q, one of PurgeQuery's, with args through exec until a run
// deletes fewer than PurgeChunk rows, and reports how many rows went, also
// those before an error.
func Purge(ctx context.Context, exec func(ctx context.Context, q string, args ...any) (sql.Result, error), q string, args ...any) (int64, error) {
	var total int64
	for {
		res, err := exec(ctx, q, args...)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("rows affected: %w", err)
		}
		total += n
		if n < PurgeChunk {
			return total, nil
		}
	}
}
