package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
)

// prefixEnd returns the least string greater than every string beginning
// with w, in code point order, so that the words beginning with w are the
// range [w, end). ok is false when no such string exists (w is empty, or
// only of U+10FFFF). A range, unlike LIKE with a parameter, stays an index
// range scan in PostgreSQL's generic plans of prepared statements; the
// token columns compare in code point order on every database.
func prefixEnd(w string) (end string, ok bool) {
	rs := []rune(w)
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i] + 1
		if r >= 0xD800 && r <= 0xDFFF {
			r = 0xE000 // surrogates are not characters
		}
		if r <= utf8.MaxRune {
			rs[i] = r
			return string(rs[:i+1]), true
		}
	}
	return "", false
}

// SearchDoctors walks doctors in name order. With a specialization or a
// language filter it walks that filter's index instead, which holds the
// names too, so a page costs about one page of rows however many doctors
// match; the other filters are checked row by row on primary keys. Name
// prefixes go through the word index.
func (s *Store) SearchDoctors(ctx context.Context, q service.Query) ([]profile.Doctor, error) {
	var (
		from  string
		key   [3]string // the columns of the name order: last, first, id
		where []string
		args  []any
	)
	join := "JOIN"
	if s.db.Dialect == sqldb.SQLite {
		join = "CROSS JOIN" // SQLite keeps the written order of a CROSS JOIN
	}
	// With a filter table leading, the cheap index-only checks come before
	// the doctors row is read.
	switch {
	case q.SpecializationID != "":
		from = "doctor_specializations f"
		key = [3]string{"f.last_name", "f.first_name", "f.doctor_id"}
		where = append(where, "f.specialization_id = ?")
		args = append(args, q.SpecializationID)
		if q.Language != "" {
			from += " " + join + " doctor_languages l ON l.doctor_id = f.doctor_id"
			where = append(where, "l.language = ?")
			args = append(args, q.Language)
		}
	case q.Language != "":
		from = "doctor_languages f"
		key = [3]string{"f.last_name", "f.first_name", "f.doctor_id"}
		where = append(where, "f.language = ?")
		args = append(args, q.Language)
	default:
		from = "doctors d"
		key = [3]string{"d.last_name", "d.first_name", "d.id"}
	}
	if q.AvailableOn != nil {
		from += " " + join + " availability a ON a.doctor_id = " + key[2]
	}
	if key[2] == "f.doctor_id" {
		from += " " + join + " doctors d ON d.id = f.doctor_id"
	}
	where = append(where, "d.active = TRUE")
	if c := q.After; c != nil {
		where = append(where, fmt.Sprintf("(%[1]s > ? OR (%[1]s = ? AND (%[2]s > ? OR (%[2]s = ? AND %[3]s > ?))))", key[0], key[1], key[2]))
		args = append(args, c.LastName, c.LastName, c.FirstName, c.FirstName, c.ID)
	}
	for _, w := range q.NamePrefixes {
		w = strings.ToLower(w)
		if end, ok := prefixEnd(w); ok {
			where = append(where, `d.id IN (SELECT t.doctor_id FROM doctor_name_tokens t WHERE t.token >= ? AND t.token < ?)`)
			args = append(args, w, end)
		} else {
			where = append(where, `d.id IN (SELECT t.doctor_id FROM doctor_name_tokens t WHERE t.token >= ?)`)
			args = append(args, w)
		}
	}
	if day := q.AvailableOn; day != nil {
		// Working hours that day: an exception with hours, or weekly hours
		// on its weekday and no exception.
		where = append(where, `(d.id IN (SELECT e.doctor_id FROM availability_exceptions e WHERE e.day = ? AND e.available = TRUE)
			OR ((a.weekly_days & ?) <> 0 AND d.id NOT IN (SELECT x.doctor_id FROM availability_exceptions x WHERE x.day = ?)))`)
		args = append(args, day.String(), 1<<int(day.Weekday()), day.String())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = page.DefaultLimit
	}
	args = append(args, limit)
	straight := ""
	if s.db.Dialect == sqldb.MySQL && key[2] == "f.doctor_id" && len(q.NamePrefixes) == 0 {
		// The filter's index leads, as written. Name words, usually the most
		// selective filter, are left to the optimizer, which then starts from
		// the word index.
		straight = "STRAIGHT_JOIN "
	}
	query := `SELECT ` + straight + doctorColumns + ` FROM ` + from + ` WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + strings.Join(key[:], ", ") + ` LIMIT ?`
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search doctors: %w", err)
	}
	docs, err := sqldb.Collect(rows, scanDoctor)
	if err != nil {
		return nil, fmt.Errorf("search doctors: %w", err)
	}
	if err := loadRelations(ctx, s.db, docs); err != nil {
		return nil, err
	}
	return docs, nil
}
