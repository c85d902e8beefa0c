package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
)

const patientCols = "id, user_id, first_name, last_name, date_of_birth, sex, email, phone, " +
	"address_line1, address_line2, address_city, address_state, address_postal, address_country, " +
	"ec_name, ec_relationship, ec_phone, preferred_language, blood_type, active, version, created_at, updated_at"

// writeCols are the columns written on insert, the derived search columns included.
const writeCols = patientCols + ", first_name_norm, last_name_norm, email_norm"

const numWriteCols = 26

type scanner = sqldb.Scanner

// scanPatient reads patientCols, plus extra trailing columns into extra.
func scanPatient(sc scanner, extra ...any) (patient.Patient, error) {
	var (
		p       patient.Patient
		userID  sql.NullString
		dob     string
		sex     string
		address = &p.Address
		ec      = &p.EmergencyContact
	)
	dest := []any{&p.ID, &userID, &p.FirstName, &p.LastName, &dob, &sex, &p.Email, &p.Phone,
		&address.Line1, &address.Line2, &address.City, &address.State, &address.PostalCode, &address.Country,
		&ec.Name, &ec.Relationship, &ec.Phone, &p.PreferredLanguage, &p.BloodType, &p.Active, &p.Version,
		&p.CreatedAt, &p.UpdatedAt}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return patient.Patient{}, err
	}
	d, err := civil.Parse(dob)
	if err != nil {
		return patient.Patient{}, fmt.Errorf("stored date of birth: %w", err)
	}
	p.UserID, p.DateOfBirth, p.Sex = userID.String, d, patient.Sex(sex)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

func patientArgs(p patient.Patient) []any {
	return []any{p.ID, nullString(p.UserID), p.FirstName, p.LastName, p.DateOfBirth.String(), string(p.Sex), p.Email, p.Phone,
		p.Address.Line1, p.Address.Line2, p.Address.City, p.Address.State, p.Address.PostalCode, p.Address.Country,
		p.EmergencyContact.Name, p.EmergencyContact.Relationship, p.EmergencyContact.Phone, p.PreferredLanguage,
		p.BloodType, p.Active, p.Version, p.CreatedAt.UTC(), p.UpdatedAt.UTC(),
		patient.NormalizeName(p.FirstName), patient.NormalizeName(p.LastName), patient.NormalizeEmail(p.Email)}
}

var insertPatient = "INSERT INTO patients (" + writeCols + ") VALUES (" + sqldb.Placeholders(numWriteCols) + ")"

// CreatePatient stores p and ev in one transaction.
func (s *Store) CreatePatient(ctx context.Context, p patient.Patient, ev patient.AuditEvent) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertPatient, patientArgs(p)...); err != nil {
			if sqldb.IsUniqueViolation(err) {
				return patient.ErrProfileExists
			}
			return fmt.Errorf("insert patient: %w", err)
		}
		return appendAuditTx(ctx, tx, ev)
	})
}

// BulkInsertPatients stores many patients in one transaction with multi-row
// INSERTs, for seeding large data sets. No audit events are written.
func (s *Store) BulkInsertPatients(ctx context.Context, ps []patient.Patient) error {
	const chunk = 500
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for len(ps) > 0 {
			n := min(len(ps), chunk)
			args := make([]any, 0, n*numWriteCols)
			for _, p := range ps[:n] {
				args = append(args, patientArgs(p)...)
			}
			q := "INSERT INTO patients (" + writeCols + ") VALUES " + sqldb.Rows(numWriteCols, n)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("bulk insert patients: %w", err)
			}
			ps = ps[n:]
		}
		return nil
	})
}

// CountPatients returns how many patients are stored.
func (s *Store) CountPatients(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM patients").Scan(&n); err != nil {
		return 0, fmt.Errorf("count patients: %w", err)
	}
	return n, nil
}

func (s *Store) onePatient(ctx context.Context, query, arg string) (patient.Patient, error) {
	rows, err := s.stmts.Query(ctx, query, arg)
	if err != nil {
		return patient.Patient{}, fmt.Errorf("get patient: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return patient.Patient{}, fmt.Errorf("get patient: %w", err)
		}
		return patient.Patient{}, patient.ErrNotFound
	}
	p, err := scanPatient(rows)
	if err != nil {
		return patient.Patient{}, fmt.Errorf("scan patient: %w", err)
	}
	return p, nil
}

// PatientByID returns a patient.
func (s *Store) PatientByID(ctx context.Context, id string) (patient.Patient, error) {
	return s.onePatient(ctx, "SELECT "+patientCols+" FROM patients WHERE id = ?", id)
}

// PatientByUserID returns the patient linked to an auth user.
func (s *Store) PatientByUserID(ctx context.Context, userID string) (patient.Patient, error) {
	if userID == "" {
		return patient.Patient{}, patient.ErrNotFound
	}
	return s.onePatient(ctx, "SELECT "+patientCols+" FROM patients WHERE user_id = ?", userID)
}

var updatePatient = "UPDATE patients SET user_id = ?, first_name = ?, last_name = ?, date_of_birth = ?, sex = ?, " +
	"email = ?, phone = ?, address_line1 = ?, address_line2 = ?, address_city = ?, address_state = ?, " +
	"address_postal = ?, address_country = ?, ec_name = ?, ec_relationship = ?, ec_phone = ?, " +
	"preferred_language = ?, blood_type = ?, active = ?, version = ?, updated_at = ?, " +
	"first_name_norm = ?, last_name_norm = ?, email_norm = ? WHERE id = ? AND version = ?"

// UpdatePatient stores p if the stored version is p.Version-1, with ev and
// the events out.
func (s *Store) UpdatePatient(ctx context.Context, p patient.Patient, ev patient.AuditEvent, out ...events.Event) error {
	a := patientArgs(p)
	// patientArgs order: id, then the columns; move id to the WHERE clause.
	args := append([]any{}, a[1:21]...) // user_id .. version
	args = append(args, a[22])          // updated_at
	args = append(args, a[23:]...)      // normalised copies
	args = append(args, p.ID, p.Version-1)
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, updatePatient, args...)
		if err != nil {
			if sqldb.IsUniqueViolation(err) {
				return patient.ErrProfileExists
			}
			return fmt.Errorf("update patient: %w", err)
		}
		if err := oneRow(ctx, tx, res, "patients", "id = ?", p.ID); err != nil {
			return err
		}
		if err := outbox.Write(ctx, tx, out...); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, ev)
	})
}

// AnnouncePatient implements service.PatientRepository.
func (s *Store) AnnouncePatient(ctx context.Context, ev patient.AuditEvent, out ...events.Event) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := outbox.Write(ctx, tx, out...); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, ev)
	})
}

// oneRow tells apart, after a conditional UPDATE, a changed row, a stale
// version and a missing row.
func oneRow(ctx context.Context, tx *sql.Tx, res sql.Result, table, where string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 1 {
		return nil
	}
	var one int
	err = tx.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE "+where, args...).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return patient.ErrNotFound
	case err != nil:
		return fmt.Errorf("check %s: %w", table, err)
	}
	return patient.ErrStaleVersion
}

// SearchPatients finds patients by name prefix, date of birth and email.
//
// With a name prefix the result is the union of two index range scans:
// patients whose last name starts with it, ordered by (last, first, id), and
// those whose first name does (and last name does not), ordered by (first,
// last, id). Each is read with LIMIT from its own index and the union is
// ordered by (matched name, other name, id), which is also the keyset of
// the cursor, so every page costs two short range scans at any table size.
func (s *Store) SearchPatients(ctx context.Context, q patient.SearchQuery) (page.Page[patient.Patient], error) {
	limit := page.ClampLimit(q.Limit)
	var after []string
	if q.Cursor != "" {
		var err error
		if after, err = page.DecodeKeys(q.Cursor, 3); err != nil {
			return page.Page[patient.Patient]{}, err
		}
	}
	var filter []string
	var fargs []any
	if !q.DateOfBirth.IsZero() {
		filter = append(filter, "date_of_birth = ?")
		fargs = append(fargs, q.DateOfBirth.String())
	}
	if q.Email != "" {
		filter = append(filter, "email_norm = ?")
		fargs = append(fargs, patient.NormalizeEmail(q.Email))
	}
	branch := func(k1, k2 string, cond []string, cargs []any) (string, []any) {
		where := append(append([]string{}, cond...), filter...)
		args := append(append([]any{}, cargs...), fargs...)
		if after != nil {
			// A row comparison is cheaper to plan than the expanded OR form;
			// the redundant bound on k1 lets SQLite start its range there too.
			where = append(where, k1+" >= ?", "("+k1+", "+k2+", id) > (?, ?, ?)")
			args = append(args, after[0], after[0], after[1], after[2])
		}
		sqlText := "SELECT " + patientCols + ", " + k1 + " AS k1, " + k2 + " AS k2 FROM patients"
		if len(where) > 0 {
			sqlText += " WHERE " + strings.Join(where, " AND ")
		}
		sqlText += " ORDER BY " + k1 + ", " + k2 + ", id LIMIT ?"
		return sqlText, append(args, limit+1)
	}
	var query string
	var args []any
	if prefix := patient.NormalizeName(q.Query); prefix != "" {
		like := escapeLike(prefix) + "%"
		starts := func(col string) ([]string, []any) {
			cond, args := []string{col + " LIKE ? ESCAPE '!'"}, []any{like}
			if s.db.Dialect == sqldb.Postgres {
				// PostgreSQL turns LIKE 'x%' into an index range only when it
				// sees the pattern: a prepared statement's generic plan, used
				// after a few runs, does not, and scans the whole index. The
				// same range as bounds on the parameters survives in any
				// plan; the columns' "C" collation orders by code point, as
				// prefixRange does.
				lo, hi, bounded := prefixRange(prefix)
				cond, args = append(cond, col+" >= ?"), append(args, lo)
				if bounded {
					cond, args = append(cond, col+" < ?"), append(args, hi)
				}
			}
			return cond, args
		}
		lastCond, lastArgs := starts("last_name_norm")
		firstCond, firstArgs := starts("first_name_norm")
		a, aargs := branch("last_name_norm", "first_name_norm", lastCond, lastArgs)
		b, bargs := branch("first_name_norm", "last_name_norm",
			append(firstCond, "last_name_norm NOT LIKE ? ESCAPE '!'"), append(firstArgs, like))
		query = "SELECT * FROM (" + a + ") by_last UNION ALL SELECT * FROM (" + b + ") by_first ORDER BY k1, k2, id LIMIT ?"
		args = append(append(aargs, bargs...), limit+1)
	} else {
		query, args = branch("last_name_norm", "first_name_norm", nil, nil)
	}
	rows, err := s.stmts.Query(ctx, query, args...)
	if err != nil {
		return page.Page[patient.Patient]{}, fmt.Errorf("search patients: %w", err)
	}
	defer rows.Close()
	out := page.Page[patient.Patient]{Items: []patient.Patient{}}
	var keys [][2]string
	for rows.Next() {
		var k1, k2 string
		p, err := scanPatient(rows, &k1, &k2)
		if err != nil {
			return page.Page[patient.Patient]{}, fmt.Errorf("scan patient: %w", err)
		}
		out.Items = append(out.Items, p)
		keys = append(keys, [2]string{k1, k2})
	}
	if err := rows.Err(); err != nil {
		return page.Page[patient.Patient]{}, fmt.Errorf("search patients: %w", err)
	}
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		last := limit - 1
		out.NextCursor = page.EncodeCursor([]string{keys[last][0], keys[last][1], out.Items[last].ID})
	}
	return out, nil
}

// prefixRange returns the strings that start with prefix as a half-open
// range [lo, hi) in code point order; bounded is false when no string
// follows them all (a prefix of U+10FFFF only).
func prefixRange(prefix string) (lo, hi string, bounded bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] == unicode.MaxRune {
			continue
		}
		next := rs[i] + 1
		if next == 0xD800 { // surrogates are no characters
			next = 0xE000
		}
		return prefix, string(append(rs[:i:i], next)), true
	}
	return prefix, "", false
}

// escapeLike escapes LIKE's wildcards with '!', the ESCAPE character.
func escapeLike(s string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(s)
}
