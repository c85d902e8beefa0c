package dbcopy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/medisync/medisync/shared/sqldb"
)

// TableReport compares one table on both sides.
type TableReport struct {
	Table                  string
	SourceRows, TargetRows int64
	SourceSum, TargetSum   Checksum
}

// OK reports whether counts and checksums agree.
func (r TableReport) OK() bool {
	return r.SourceRows == r.TargetRows && r.SourceSum == r.TargetSum
}

// Report is the verification of every copied table, in copy order.
type Report struct {
	Tables []TableReport
	// TargetOnly are the tables only the target's migrations make (see
	// Copy): not copied nor compared, left as those migrations made them.
	TargetOnly []string
}

// OK reports whether every table agrees.
func (r Report) OK() bool {
	for _, t := range r.Tables {
		if !t.OK() {
			return false
		}
	}
	return true
}

// Differences names each table that disagrees, and how.
func (r Report) Differences() []string {
	var out []string
	for _, t := range r.Tables {
		switch {
		case t.SourceRows != t.TargetRows:
			out = append(out, fmt.Sprintf("%s: %d rows in the source, %d in the target", t.Table, t.SourceRows, t.TargetRows))
		case t.SourceSum != t.TargetSum:
			out = append(out, fmt.Sprintf("%s: same %d rows but different contents (checksums differ)", t.Table, t.SourceRows))
		}
	}
	return out
}

// Print writes the report as a table.
func (r Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "table\tsource rows\ttarget rows\tchecksum\tresult")
	for _, t := range r.Tables {
		result, sum := "ok", t.SourceSum.String()[:16]
		if !t.OK() {
			result = "DIFFERENT"
			sum = sum + " / " + t.TargetSum.String()[:16]
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", t.Table, t.SourceRows, t.TargetRows, sum, result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range r.TargetOnly {
		if _, err := fmt.Fprintf(w, "%s: only in the target's migrations, left as they made it\n", t); err != nil {
			return err
		}
	}
	return nil
}

func verify(ctx context.Context, src sqldb.Querier, srcDialect sqldb.Dialect, to *sqldb.DB, tables []table) (Report, error) {
	var rep Report
	for _, t := range tables {
		r := TableReport{Table: t.name}
		var err error
		if r.SourceRows, r.SourceSum, err = checksum(ctx, src, srcDialect, t); err != nil {
			return rep, fmt.Errorf("verify %s in the source: %w", t.name, err)
		}
		if r.TargetRows, r.TargetSum, err = checksum(ctx, to, sqldb.Postgres, t); err != nil {
			return rep, fmt.Errorf("verify %s in the target: %w", t.name, err)
		}
		rep.Tables = append(rep.Tables, r)
	}
	return rep, nil
}

// checksum counts a table's rows and sums their hashes, every value
// normalized and rendered by the target column's kind.
func checksum(ctx context.Context, q sqldb.Querier, d sqldb.Dialect, t table) (int64, Checksum, error) {
	cols := t.copied()
	// Columns in name order: the rendering does not depend on declaration order.
	slices.SortFunc(cols, func(a, b column) int { return strings.Compare(a.name, b.name) })
	names := make([]string, len(cols))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		quoted[i] = quote(d, c.name)
	}
	var sum Checksum
	if len(cols) == 0 {
		return 0, sum, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+quote(d, t.name))
	if err != nil {
		return 0, sum, err
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	rendered := make([]string, len(cols))
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, sum, err
		}
		for i, c := range cols {
			v, err := normalize(vals[i], c.kind)
			if err != nil {
				return n, sum, fmt.Errorf("column %s, row %d: %w", c.name, n+1, redactValue(err))
			}
			if rendered[i], err = render(v, c.kind); err != nil {
				return n, sum, fmt.Errorf("column %s, row %d: %w", c.name, n+1, redactValue(err))
			}
		}
		sum.add(rowHash(names, rendered))
		n++
	}
	return n, sum, rows.Err()
}
