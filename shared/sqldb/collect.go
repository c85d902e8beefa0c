package sqldb

import "database/sql"

// Scanner is what *sql.Rows and *sql.Row share, so one scan function serves
// a single-row lookup and a list.
type Scanner interface {
	Scan(dest ...any) error
}

// Collect scans every row with scan and closes rows, whatever happens. The
// result is never nil, so an empty list encodes as [] rather than null.
// Errors come back as they are; the caller adds its own context.
func Collect[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
