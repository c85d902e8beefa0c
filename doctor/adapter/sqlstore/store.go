// Package sqlstore is the doctor service's repository on database/sql, for
// SQLite and MySQL/MariaDB alike, with its migrations embedded.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/sqldb"
)

//go:embed migrations
var embedded embed.FS

// Migrations returns the goose migrations, one folder per dialect.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		// The folder is embedded at build time; it cannot be missing.
		panic(err)
	}
	return sub
}

// Store implements service.Repository.
type Store struct {
	db *sqldb.DB
}

var _ service.Repository = (*Store)(nil)

// New returns a store on a migrated database.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

const doctorColumns = `d.id, d.user_id, d.first_name, d.last_name, d.email, d.phone, d.license_number, d.bio,
	d.time_zone, d.appointment_minutes, d.active, d.version, d.created_at, d.updated_at`

type scanner = sqldb.Scanner

func scanDoctor(row scanner) (profile.Doctor, error) {
	var (
		d      profile.Doctor
		userID sql.NullString
	)
	err := row.Scan(&d.ID, &userID, &d.FirstName, &d.LastName, &d.Email, &d.Phone, &d.LicenseNumber, &d.Bio,
		&d.TimeZone, &d.AppointmentMinutes, &d.Active, &d.Version, &d.CreatedAt, &d.UpdatedAt)
	d.UserID = userID.String
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// insertRows inserts rows of len(cols) values each, in batches.
func insertRows(ctx context.Context, q sqldb.Querier, table string, cols []string, rows [][]any) error {
	const batch = 200
	for len(rows) > 0 {
		n := min(len(rows), batch)
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, n*len(cols))
		for i, r := range rows[:n] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + placeholders(len(cols)) + ")")
			args = append(args, r...)
		}
		if _, err := q.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// maxTxAttempts bounds how often a transaction is retried after a deadlock.
const maxTxAttempts = 4

// inTx runs fn in a transaction. On MySQL it runs at READ COMMITTED, where
// InnoDB takes no gap locks: writers of neighbouring doctors (UUID v7 keys
// sort by time, so new doctors are neighbours) then do not deadlock each
// other, and a deadlock that still happens is retried. The version guards
// keep the writes correct at that level.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var opts *sql.TxOptions
	if s.db.Dialect == sqldb.MySQL {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	for attempt := 1; ; attempt++ {
		err := s.db.InTxOptions(ctx, opts, fn)
		if err == nil || attempt == maxTxAttempts || !isDeadlock(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		}
	}
}

// isDeadlock reports a MySQL deadlock or lock wait timeout: the transaction
// was rolled back and may simply run again.
func isDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// duplicateError tells which unique rule a doctor write broke.
func duplicateError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "user_id") {
		return profile.ErrUserHasProfile
	}
	if strings.Contains(msg, "license_number") {
		return profile.ErrLicenseTaken
	}
	return fmt.Errorf("duplicate doctor: %w", err)
}

var errUnknownSpecialization = problem.FieldErrors{{Field: "specializationIds", Message: "names a specialization that does not exist"}}

func (s *Store) CreateDoctor(ctx context.Context, d profile.Doctor, a schedule.Availability) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO doctors (id, user_id, first_name, last_name, email, phone,
			license_number, bio, time_zone, appointment_minutes, active, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, nullable(d.UserID), d.FirstName, d.LastName, d.Email, d.Phone, d.LicenseNumber, d.Bio,
			d.TimeZone, d.AppointmentMinutes, d.Active, d.Version, d.CreatedAt.UTC(), d.UpdatedAt.UTC())
		if err != nil {
			if sqldb.IsUniqueViolation(err) {
				return duplicateError(err)
			}
			return fmt.Errorf("insert doctor: %w", err)
		}
		if err := insertRelations(ctx, tx, d); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO availability (doctor_id, slot_minutes, buffer_minutes, weekly_days, version, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, d.ID, a.SlotMinutes, a.BufferMinutes, weeklyDays(a), a.Version, a.UpdatedAt.UTC()); err != nil {
			return fmt.Errorf("insert availability: %w", err)
		}
		return writeHours(ctx, tx, a)
	})
}

// writeRelations replaces the doctor's specializations and languages.
func writeRelations(ctx context.Context, tx *sql.Tx, d profile.Doctor) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM doctor_specializations WHERE doctor_id = ?`, d.ID); err != nil {
		return fmt.Errorf("clear specializations: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM doctor_languages WHERE doctor_id = ?`, d.ID); err != nil {
		return fmt.Errorf("clear languages: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM doctor_name_tokens WHERE doctor_id = ?`, d.ID); err != nil {
		return fmt.Errorf("clear name tokens: %w", err)
	}
	return insertRelations(ctx, tx, d)
}

// insertRelations inserts the doctor's specializations and languages.
func insertRelations(ctx context.Context, tx *sql.Tx, d profile.Doctor) error {
	rows := make([][]any, 0, len(d.SpecializationIDs))
	for _, id := range d.SpecializationIDs {
		rows = append(rows, []any{d.ID, id, d.LastName, d.FirstName})
	}
	if err := insertRows(ctx, tx, "doctor_specializations", []string{"doctor_id", "specialization_id", "last_name", "first_name"}, rows); err != nil {
		if sqldb.IsForeignKeyViolation(err) {
			return errUnknownSpecialization
		}
		return err
	}
	rows = rows[:0]
	for i, l := range d.Languages {
		rows = append(rows, []any{d.ID, i, l, d.LastName, d.FirstName})
	}
	if err := insertRows(ctx, tx, "doctor_languages", []string{"doctor_id", "position", "language", "last_name", "first_name"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, tok := range profile.NameTokens(d.FirstName, d.LastName) {
		rows = append(rows, []any{tok, d.ID})
	}
	return insertRows(ctx, tx, "doctor_name_tokens", []string{"token", "doctor_id"}, rows)
}

func (s *Store) GetDoctor(ctx context.Context, id string) (profile.Doctor, error) {
	return getDoctor(ctx, s.db, `d.id = ?`, id)
}

func (s *Store) GetDoctorByUser(ctx context.Context, userID string) (profile.Doctor, error) {
	return getDoctor(ctx, s.db, `d.user_id = ?`, userID)
}

func getDoctor(ctx context.Context, q sqldb.Querier, where string, arg any) (profile.Doctor, error) {
	d, err := scanDoctor(q.QueryRowContext(ctx, `SELECT `+doctorColumns+` FROM doctors d WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Doctor{}, profile.ErrDoctorNotFound
	}
	if err != nil {
		return profile.Doctor{}, fmt.Errorf("read doctor: %w", err)
	}
	docs := []profile.Doctor{d}
	if err := loadRelations(ctx, q, docs); err != nil {
		return profile.Doctor{}, err
	}
	return docs[0], nil
}

// loadRelations fills the specializations and languages of docs with two
// queries, whatever their number.
func loadRelations(ctx context.Context, q sqldb.Querier, docs []profile.Doctor) error {
	if len(docs) == 0 {
		return nil
	}
	index := make(map[string]int, len(docs))
	args := make([]any, len(docs))
	for i := range docs {
		index[docs[i].ID] = i
		args[i] = docs[i].ID
		docs[i].SpecializationIDs = []string{}
		docs[i].Specializations = []profile.Specialization{}
		docs[i].Languages = []string{}
	}
	in := placeholders(len(docs))
	rows, err := q.QueryContext(ctx, `SELECT ds.doctor_id, s.id, s.name, s.description FROM doctor_specializations ds
		JOIN specializations s ON s.id = ds.specialization_id WHERE ds.doctor_id IN (`+in+`)`, args...)
	if err != nil {
		return fmt.Errorf("read specializations of doctors: %w", err)
	}
	for rows.Next() {
		var doctorID string
		var sp profile.Specialization
		if err := rows.Scan(&doctorID, &sp.ID, &sp.Name, &sp.Description); err != nil {
			rows.Close()
			return fmt.Errorf("scan specialization: %w", err)
		}
		d := &docs[index[doctorID]]
		d.Specializations = append(d.Specializations, sp)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read specializations of doctors: %w", err)
	}
	for i := range docs {
		sps := docs[i].Specializations
		sort.Slice(sps, func(a, b int) bool { return profile.NameKey(sps[a].Name) < profile.NameKey(sps[b].Name) })
		for _, sp := range sps {
			docs[i].SpecializationIDs = append(docs[i].SpecializationIDs, sp.ID)
		}
	}

	rows, err = q.QueryContext(ctx, `SELECT doctor_id, language FROM doctor_languages WHERE doctor_id IN (`+in+`)
		ORDER BY doctor_id, position`, args...)
	if err != nil {
		return fmt.Errorf("read languages of doctors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var doctorID, lang string
		if err := rows.Scan(&doctorID, &lang); err != nil {
			return fmt.Errorf("scan language: %w", err)
		}
		d := &docs[index[doctorID]]
		d.Languages = append(d.Languages, lang)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read languages of doctors: %w", err)
	}
	return nil
}

// versionGuard returns the WHERE clause part and argument checking a
// version, or nothing when any version will do.
func versionGuard(expected int64) (string, []any) {
	if expected == 0 {
		return "", nil
	}
	return " AND version = ?", []any{expected}
}

func (s *Store) UpdateDoctor(ctx context.Context, d profile.Doctor, expectedVersion int64) (profile.Doctor, error) {
	var out profile.Doctor
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		guard, gargs := versionGuard(expectedVersion)
		args := append([]any{nullable(d.UserID), d.FirstName, d.LastName, d.Email, d.Phone, d.LicenseNumber, d.Bio,
			d.TimeZone, d.AppointmentMinutes, d.Active, d.UpdatedAt.UTC(), d.ID}, gargs...)
		res, err := tx.ExecContext(ctx, `UPDATE doctors SET user_id = ?, first_name = ?, last_name = ?, email = ?,
			phone = ?, license_number = ?, bio = ?, time_zone = ?, appointment_minutes = ?, active = ?,
			version = version + 1, updated_at = ? WHERE id = ?`+guard, args...)
		if err != nil {
			if sqldb.IsUniqueViolation(err) {
				return duplicateError(err)
			}
			return fmt.Errorf("update doctor: %w", err)
		}
		if err := mustTouchOne(ctx, tx, res, `SELECT 1 FROM doctors WHERE id = ?`, d.ID, profile.ErrDoctorNotFound); err != nil {
			return err
		}
		if err := writeRelations(ctx, tx, d); err != nil {
			return err
		}
		out, err = getDoctor(ctx, tx, `d.id = ?`, d.ID)
		return err
	})
	return out, err
}

// mustTouchOne checks that a guarded UPDATE changed its row; when it did
// not, the row is either missing (notFound) or at another version (ErrStale).
func mustTouchOne(ctx context.Context, q sqldb.Querier, res sql.Result, exists string, id string, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n > 0 {
		return nil
	}
	var one int
	err = q.QueryRowContext(ctx, exists, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("check existence: %w", err)
	}
	return profile.ErrStale
}

// likePrefix turns a search word into a LIKE pattern matching names that
// begin with it; '!' escapes the wildcards.
func likePrefix(w string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(w) + "%"
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
	where = append(where, "d.active = 1")
	if c := q.After; c != nil {
		where = append(where, fmt.Sprintf("(%[1]s > ? OR (%[1]s = ? AND (%[2]s > ? OR (%[2]s = ? AND %[3]s > ?))))", key[0], key[1], key[2]))
		args = append(args, c.LastName, c.LastName, c.FirstName, c.FirstName, c.ID)
	}
	for _, w := range q.NamePrefixes {
		where = append(where, `d.id IN (SELECT t.doctor_id FROM doctor_name_tokens t WHERE t.token LIKE ? ESCAPE '!')`)
		args = append(args, likePrefix(strings.ToLower(w)))
	}
	if day := q.AvailableOn; day != nil {
		// Working hours that day: an exception with hours, or weekly hours
		// on its weekday and no exception.
		where = append(where, `(d.id IN (SELECT e.doctor_id FROM availability_exceptions e WHERE e.day = ? AND e.available = 1)
			OR ((a.weekly_days & ?) <> 0 AND d.id NOT IN (SELECT x.doctor_id FROM availability_exceptions x WHERE x.day = ?)))`)
		args = append(args, day.String(), 1<<int(day.Weekday()), day.String())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = service.DefaultLimit
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

// --- specializations ---

const specializationColumns = `id, name, description, version, created_at, updated_at`

func scanSpecialization(row scanner) (profile.Specialization, error) {
	var sp profile.Specialization
	err := row.Scan(&sp.ID, &sp.Name, &sp.Description, &sp.Version, &sp.CreatedAt, &sp.UpdatedAt)
	sp.CreatedAt, sp.UpdatedAt = sp.CreatedAt.UTC(), sp.UpdatedAt.UTC()
	return sp, err
}

func (s *Store) CreateSpecialization(ctx context.Context, sp profile.Specialization) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO specializations (id, name, name_key, description, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, sp.ID, sp.Name, profile.NameKey(sp.Name), sp.Description, sp.Version,
		sp.CreatedAt.UTC(), sp.UpdatedAt.UTC())
	if sqldb.IsUniqueViolation(err) {
		return profile.ErrSpecializationNameUsed
	}
	if err != nil {
		return fmt.Errorf("insert specialization: %w", err)
	}
	return nil
}

func (s *Store) GetSpecialization(ctx context.Context, id string) (profile.Specialization, error) {
	return getSpecialization(ctx, s.db, id)
}

func getSpecialization(ctx context.Context, q sqldb.Querier, id string) (profile.Specialization, error) {
	sp, err := scanSpecialization(q.QueryRowContext(ctx, `SELECT `+specializationColumns+` FROM specializations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Specialization{}, profile.ErrSpecializationNotFound
	}
	if err != nil {
		return profile.Specialization{}, fmt.Errorf("read specialization: %w", err)
	}
	return sp, nil
}

func (s *Store) ListSpecializations(ctx context.Context, afterKey string, limit int) ([]profile.Specialization, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+specializationColumns+` FROM specializations WHERE name_key > ?
		ORDER BY name_key LIMIT ?`, afterKey, limit)
	if err != nil {
		return nil, fmt.Errorf("list specializations: %w", err)
	}
	out, err := sqldb.Collect(rows, scanSpecialization)
	if err != nil {
		return nil, fmt.Errorf("list specializations: %w", err)
	}
	return out, nil
}

func (s *Store) UpdateSpecialization(ctx context.Context, sp profile.Specialization, expectedVersion int64) (profile.Specialization, error) {
	var out profile.Specialization
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		guard, gargs := versionGuard(expectedVersion)
		res, err := tx.ExecContext(ctx, `UPDATE specializations SET name = ?, name_key = ?, description = ?,
			version = version + 1, updated_at = ? WHERE id = ?`+guard,
			append([]any{sp.Name, profile.NameKey(sp.Name), sp.Description, sp.UpdatedAt.UTC(), sp.ID}, gargs...)...)
		if sqldb.IsUniqueViolation(err) {
			return profile.ErrSpecializationNameUsed
		}
		if err != nil {
			return fmt.Errorf("update specialization: %w", err)
		}
		if err := mustTouchOne(ctx, tx, res, `SELECT 1 FROM specializations WHERE id = ?`, sp.ID, profile.ErrSpecializationNotFound); err != nil {
			return err
		}
		out, err = getSpecialization(ctx, tx, sp.ID)
		return err
	})
	return out, err
}

func (s *Store) DeleteSpecialization(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM specializations WHERE id = ?`, id)
	if sqldb.IsForeignKeyViolation(err) {
		return profile.ErrSpecializationInUse
	}
	if err != nil {
		return fmt.Errorf("delete specialization: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete specialization: %w", err)
	}
	if n == 0 {
		return profile.ErrSpecializationNotFound
	}
	return nil
}

func (s *Store) MissingSpecializations(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM specializations WHERE id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("check specializations: %w", err)
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan specialization id: %w", err)
		}
		found[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check specializations: %w", err)
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// --- availability ---

func (s *Store) GetAvailability(ctx context.Context, doctorID string) (schedule.Availability, error) {
	return getAvailability(ctx, s.db, doctorID)
}

func getAvailability(ctx context.Context, q sqldb.Querier, doctorID string) (schedule.Availability, error) {
	a := schedule.Availability{DoctorID: doctorID}
	err := q.QueryRowContext(ctx, `SELECT slot_minutes, buffer_minutes, version, updated_at FROM availability WHERE doctor_id = ?`,
		doctorID).Scan(&a.SlotMinutes, &a.BufferMinutes, &a.Version, &a.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return schedule.Availability{}, profile.ErrDoctorNotFound
	}
	if err != nil {
		return schedule.Availability{}, fmt.Errorf("read availability: %w", err)
	}
	a.UpdatedAt = a.UpdatedAt.UTC()

	rows, err := q.QueryContext(ctx, `SELECT weekday, start_minute, end_minute FROM availability_weekly WHERE doctor_id = ?
		ORDER BY weekday, start_minute`, doctorID)
	if err != nil {
		return schedule.Availability{}, fmt.Errorf("read weekly hours: %w", err)
	}
	for rows.Next() {
		var wd int
		var iv schedule.Interval
		if err := rows.Scan(&wd, &iv.Start, &iv.End); err != nil {
			rows.Close()
			return schedule.Availability{}, fmt.Errorf("scan weekly hours: %w", err)
		}
		if wd >= 0 && wd < 7 {
			a.Weekly[wd] = append(a.Weekly[wd], iv)
		}
	}
	if err := rows.Close(); err != nil {
		return schedule.Availability{}, fmt.Errorf("read weekly hours: %w", err)
	}

	rows, err = q.QueryContext(ctx, `SELECT e.day, i.start_minute, i.end_minute FROM availability_exceptions e
		LEFT JOIN availability_exception_intervals i ON i.doctor_id = e.doctor_id AND i.day = e.day
		WHERE e.doctor_id = ? ORDER BY e.day, i.start_minute`, doctorID)
	if err != nil {
		return schedule.Availability{}, fmt.Errorf("read exceptions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			day        string
			start, end sql.NullInt64
		)
		if err := rows.Scan(&day, &start, &end); err != nil {
			return schedule.Availability{}, fmt.Errorf("scan exception: %w", err)
		}
		d, err := schedule.ParseDate(day)
		if err != nil {
			return schedule.Availability{}, fmt.Errorf("stored exception date %q: %w", day, err)
		}
		if n := len(a.Exceptions); n == 0 || a.Exceptions[n-1].Date != d {
			a.Exceptions = append(a.Exceptions, schedule.Exception{Date: d})
		}
		if start.Valid && end.Valid {
			e := &a.Exceptions[len(a.Exceptions)-1]
			e.Intervals = append(e.Intervals, schedule.Interval{Start: int(start.Int64), End: int(end.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return schedule.Availability{}, fmt.Errorf("read exceptions: %w", err)
	}
	return a, nil
}

func (s *Store) ReplaceAvailability(ctx context.Context, a schedule.Availability, expectedVersion int64) (schedule.Availability, error) {
	var out schedule.Availability
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		guard, gargs := versionGuard(expectedVersion)
		res, err := tx.ExecContext(ctx, `UPDATE availability SET slot_minutes = ?, buffer_minutes = ?, weekly_days = ?,
			version = version + 1, updated_at = ? WHERE doctor_id = ?`+guard,
			append([]any{a.SlotMinutes, a.BufferMinutes, weeklyDays(a), a.UpdatedAt.UTC(), a.DoctorID}, gargs...)...)
		if err != nil {
			return fmt.Errorf("update availability: %w", err)
		}
		if err := mustTouchOne(ctx, tx, res, `SELECT 1 FROM availability WHERE doctor_id = ?`, a.DoctorID, profile.ErrDoctorNotFound); err != nil {
			return err
		}
		for _, stmt := range []string{
			`DELETE FROM availability_exception_intervals WHERE doctor_id = ?`,
			`DELETE FROM availability_exceptions WHERE doctor_id = ?`,
			`DELETE FROM availability_weekly WHERE doctor_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, stmt, a.DoctorID); err != nil {
				return fmt.Errorf("clear availability: %w", err)
			}
		}
		if err := writeHours(ctx, tx, a); err != nil {
			return err
		}
		out, err = getAvailability(ctx, tx, a.DoctorID)
		return err
	})
	return out, err
}

// weeklyDays is the bit set of weekdays with weekly hours (bit 0 Sunday).
func weeklyDays(a schedule.Availability) int {
	mask := 0
	for wd, ivs := range a.Weekly {
		if len(ivs) > 0 {
			mask |= 1 << wd
		}
	}
	return mask
}

// writeHours inserts the weekly hours and exceptions of a.
func writeHours(ctx context.Context, tx *sql.Tx, a schedule.Availability) error {
	var weekly [][]any
	for wd, ivs := range a.Weekly {
		for _, iv := range ivs {
			weekly = append(weekly, []any{a.DoctorID, wd, iv.Start, iv.End})
		}
	}
	if err := insertRows(ctx, tx, "availability_weekly", []string{"doctor_id", "weekday", "start_minute", "end_minute"}, weekly); err != nil {
		return err
	}
	var exceptions, intervals [][]any
	for _, e := range a.Exceptions {
		exceptions = append(exceptions, []any{a.DoctorID, e.Date.String(), e.Available()})
		for _, iv := range e.Intervals {
			intervals = append(intervals, []any{a.DoctorID, e.Date.String(), iv.Start, iv.End})
		}
	}
	if err := insertRows(ctx, tx, "availability_exceptions", []string{"doctor_id", "day", "available"}, exceptions); err != nil {
		return err
	}
	return insertRows(ctx, tx, "availability_exception_intervals", []string{"doctor_id", "day", "start_minute", "end_minute"}, intervals)
}
