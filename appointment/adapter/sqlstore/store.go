// Package sqlstore is the appointment service's repository on database/sql,
// for SQLite, MySQL/MariaDB and PostgreSQL, with its migrations embedded. It
// is where "no double booking" is enforced: see
// docs/adr/0026-no-double-booking.md.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/inbox"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/page"
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

// MaxSpan is the longest appointment the stores look back for when they
// search overlaps by start (the doctor service's longest slot is 240
// minutes; the service refuses anything longer than a day).
const MaxSpan = appointment.MaxSpan

// MaxTaken bounds the ranges one Taken call returns.
const MaxTaken = 20000

// maxTxAttempts bounds how often a transaction is retried after a deadlock
// or serialization failure.
const maxTxAttempts = 8

const columns = `id, patient_id, patient_user_id, doctor_id, doctor_user_id, doctor_name, time_zone,
	start_at, end_at, status, reason, cancellation_reason, cancellation_note, booked_by, updated_by,
	created_at, updated_at, version`

// free is the SQL list of statuses that do not hold a slot.
var free = func() string {
	q := make([]string, len(appointment.FreeStatuses))
	for i, s := range appointment.FreeStatuses {
		q[i] = "'" + string(s) + "'"
	}
	return "(" + strings.Join(q, ", ") + ")"
}()

// inTx runs fn in a transaction, again when it failed only because of a
// concurrent one. On MySQL and PostgreSQL it runs at READ COMMITTED (sqldb
// opens every MySQL session at that level): InnoDB takes no gap locks
// there, and every statement sees what committed before it began, which
// the overlap check needs once it holds the doctor's lock.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return sqldb.Retry(ctx, maxTxAttempts, func() error { return s.db.InTx(ctx, fn) })
}

// isSlotViolation reports the database refusing an overlapping appointment:
// the exclusion constraint (PostgreSQL) or the unique index on the start of
// appointments that hold their time (MySQL, SQLite).
func isSlotViolation(err error) bool {
	return sqldb.IsExclusionViolation(err) || sqldb.IsUniqueViolation(err)
}

// lockRef names one row of a lock table.
type lockRef struct{ table, column, id string }

func doctorLock(id string) lockRef  { return lockRef{"doctor_locks", "doctor_id", id} }
func patientLock(id string) lockRef { return lockRef{"patient_locks", "patient_id", id} }

// missingLock: a lock row fn needs may not exist yet.
type missingLock []lockRef

func (m missingLock) Error() string { return fmt.Sprintf("%s row missing", m[0].table) }

// withLocks runs fn in a transaction (inTx). When fn finds a lock row
// missing (lockRows), the rows are created outside any transaction, so that
// concurrent first writers do not deadlock on inserting them, and fn runs
// again.
func (s *Store) withLocks(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for range 3 {
		err := s.inTx(ctx, fn)
		var m missingLock
		if !errors.As(err, &m) {
			return err
		}
		for _, r := range m {
			q := `INSERT IGNORE INTO ` + r.table + ` (` + r.column + `) VALUES (?)`
			if s.db.Dialect == sqldb.Postgres {
				q = `INSERT INTO ` + r.table + ` (` + r.column + `) VALUES (?) ON CONFLICT DO NOTHING`
			}
			if _, err := s.db.ExecContext(ctx, q, r.id); err != nil {
				return fmt.Errorf("create %s row: %w", r.table, err)
			}
		}
	}
	return s.inTx(ctx, fn)
}

// lockRows takes rows of the lock tables FOR UPDATE, in one statement and
// in the order given: the writers that take a row queue, and a statement
// that follows sees what the previous ones committed (READ COMMITTED on
// MySQL and PostgreSQL). SQLite needs no lock: its write transactions begin
// IMMEDIATE and run one at a time.
func (s *Store) lockRows(ctx context.Context, tx *sql.Tx, rows ...lockRef) error {
	if s.db.Dialect == sqldb.SQLite || len(rows) == 0 {
		return nil
	}
	// STRAIGHT_JOIN (MySQL) reads, and so locks, the tables in the order
	// written; every statement that takes two rows takes them doctor first.
	q := `SELECT `
	if s.db.Dialect == sqldb.MySQL && len(rows) > 1 {
		q += `STRAIGHT_JOIN `
	}
	var from, where []string
	args := make([]any, len(rows))
	for i, r := range rows {
		t := fmt.Sprintf("l%d", i)
		if i == 0 {
			q += t + `.` + r.column
		}
		from = append(from, r.table+` `+t)
		where = append(where, t+`.`+r.column+` = ?`)
		args[i] = r.id
	}
	q += ` FROM ` + strings.Join(from, `, `) + ` WHERE ` + strings.Join(where, ` AND `) + ` FOR UPDATE`
	var got string
	err := tx.QueryRowContext(ctx, q, args...).Scan(&got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return missingLock(rows)
	case err != nil:
		return fmt.Errorf("lock %s: %w", rows[0].table, err)
	}
	return nil
}

// doctorLocks are the rows a write that takes a doctor's time locks
// first: the doctor's, so that the writers of one doctor's times queue.
// On MySQL the overlap check that follows then sees every appointment
// committed before, and none can be added before the transaction ends. On
// PostgreSQL the exclusion constraint refuses overlaps by itself, but
// concurrent inserts of overlapping times each wait for the other's
// uncommitted index entry and deadlock; queued, each finds the committed
// one and is refused at once. SQLite writers already run one at a time. A
// patient's row, when taken too, comes after the doctor's, never before,
// so the two cannot deadlock.
func (s *Store) doctorLocks(doctorID string) []lockRef {
	if s.db.Dialect == sqldb.SQLite {
		return nil
	}
	return []lockRef{doctorLock(doctorID)}
}

// active is the SQL list of statuses of an appointment that is still to
// come or under way.
var active = "('" + string(appointment.Booked) + "', '" + string(appointment.Arrived) + "', '" + string(appointment.CheckedIn) + "')"

// overlapSQL matches another appointment of a doctor holding a time that
// overlaps [start, end); its arguments are doctorID, end, start - MaxSpan
// (so that the (doctor_id, start_at) index bounds the scan), start and the
// id to leave out.
var overlapSQL = `SELECT 1 FROM appointments
	WHERE doctor_id = ? AND start_at < ? AND start_at > ? AND end_at > ? AND id <> ? AND status NOT IN ` + free

func overlapArgs(doctorID, exceptID string, start, end time.Time) []any {
	return []any{doctorID, end.UTC(), start.UTC().Add(-MaxSpan), start.UTC(), exceptID}
}

// activeSQL counts a patient's active appointments ending after now; its
// arguments are patientID, now and now - MaxSpan (the start bound lets the
// (patient_id, start_at, id) index skip the past).
var activeSQL = `SELECT COUNT(*) FROM appointments
	WHERE patient_id = ? AND status IN ` + active + ` AND end_at > ? AND start_at > ?`

// patientOverlapSQL matches another active appointment of a patient, with
// any doctor, whose time overlaps [start, end); its arguments are
// patientID, end, start - MaxSpan (so that the (patient_id, start_at, id)
// index, which holds end_at and status, bounds the scan and answers it
// alone), start and the id to leave out. Intervals are half-open: one
// ending when the other starts does not overlap it.
var patientOverlapSQL = `SELECT 1 FROM appointments
	WHERE patient_id = ? AND start_at < ? AND start_at > ? AND end_at > ? AND id <> ? AND status IN ` + active

// check is a condition a booking must meet: SQL that is true when it
// does, its arguments, and the error when it does not.
type check struct {
	cond   string
	args   []any
	refuse error
}

// overlapChecks: no other appointment overlaps a's time, unless the
// database refuses overlaps by itself (PostgreSQL).
func (s *Store) overlapChecks(a appointment.Appointment) []check {
	if s.db.Dialect == sqldb.Postgres {
		return nil
	}
	return []check{{`NOT EXISTS (` + overlapSQL + `)`, overlapArgs(a.DoctorID, a.ID, a.Start, a.End), appointment.ErrSlotTaken}}
}

// patientChecks: with noOverlap, the patient holds no other active
// appointment overlapping a's time. It comes before the doctor's check so
// that a patient asking twice for one time is told the same on every
// database, PostgreSQL's constraint refusing only at the write.
func patientChecks(a appointment.Appointment, noOverlap bool) []check {
	if !noOverlap {
		return nil
	}
	return []check{{`NOT EXISTS (` + patientOverlapSQL + `)`,
		[]any{a.PatientID, a.End.UTC(), a.Start.UTC().Add(-MaxSpan), a.Start.UTC(), a.ID}, appointment.ErrPatientBusy}}
}

// bookingChecks are what booking a must meet: with o.NoPatientOverlap the
// patient is free at its time, no other appointment of the doctor overlaps
// it (unless the database refuses overlaps by itself) and, with a cap, the
// patient holds fewer than o.MaxActive active appointments.
func (s *Store) bookingChecks(a appointment.Appointment, o service.BookOptions) []check {
	cs := append(patientChecks(a, o.NoPatientOverlap), s.overlapChecks(a)...)
	maxActive, now := o.MaxActive, o.Now
	if maxActive > 0 {
		cs = append(cs, check{`(` + activeSQL + `) < ?`, []any{a.PatientID, now.UTC(), now.UTC().Add(-MaxSpan), maxActive}, appointment.ErrTooManyActive})
	}
	return cs
}

// checkAll refuses a write that fails a check, reading them all in
// one statement.
func checkAll(ctx context.Context, tx *sql.Tx, checks []check) error {
	if len(checks) == 0 {
		return nil
	}
	conds := make([]string, len(checks))
	ok := make([]bool, len(checks))
	dest := make([]any, len(checks))
	var args []any
	for i, c := range checks {
		conds[i], dest[i] = c.cond, &ok[i]
		args = append(args, c.args...)
	}
	if err := tx.QueryRowContext(ctx, `SELECT `+strings.Join(conds, `, `), args...).Scan(dest...); err != nil {
		return fmt.Errorf("check booking: %w", err)
	}
	for i, c := range checks {
		if !ok[i] {
			return c.refuse
		}
	}
	return nil
}

// Book implements service.Repository. On MySQL a booking is seven round
// trips: begin, the locks, the checks, three inserts (the appointment, its
// audit event, its outbox event) and commit.
func (s *Store) Book(ctx context.Context, a appointment.Appointment, o service.BookOptions, evs ...events.Event) error {
	key := o.Key
	locks := s.doctorLocks(a.DoctorID)
	if o.MaxActive > 0 || o.NoPatientOverlap {
		// The patient's lock makes the count and the patient's overlap
		// check, read next, stay true until this transaction ends: two
		// bookings of one patient with two doctors hold no lock in common
		// but this one.
		locks = append(locks, patientLock(a.PatientID))
	}
	checks := s.bookingChecks(a, o)
	return s.withLocks(ctx, func(tx *sql.Tx) error {
		// The key first: a concurrent request with the same key waits here
		// for this one to end, then finds the key and answers what it booked.
		if key != nil {
			// A key past its retention is gone, even before the purge.
			if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE user_id = ? AND idem_key = ? AND created_at < ?`,
				key.UserID, key.Key, key.ExpiredBefore.UTC()); err != nil {
				return fmt.Errorf("drop expired idempotency key: %w", err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (user_id, idem_key, request_hash, appointment_id, created_at)
				VALUES (?, ?, ?, ?, ?)`, key.UserID, key.Key, key.RequestHash, a.ID, key.CreatedAt.UTC())
			if sqldb.IsUniqueViolation(err) {
				return service.ErrKeyUsed
			}
			if err != nil {
				return fmt.Errorf("store idempotency key: %w", err)
			}
		}
		if err := s.lockRows(ctx, tx, locks...); err != nil {
			return err
		}
		if err := checkAll(ctx, tx, checks); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO appointments (`+columns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.PatientID, a.PatientUserID, a.DoctorID, a.DoctorUserID, a.DoctorName, a.TimeZone,
			a.Start.UTC(), a.End.UTC(), string(a.Status), a.Reason, string(a.CancellationReason), a.CancellationNote, a.BookedBy,
			a.UpdatedBy, a.CreatedAt.UTC(), a.UpdatedAt.UTC(), a.Version)
		if isSlotViolation(err) {
			return appointment.ErrSlotTaken
		}
		if err != nil {
			return fmt.Errorf("insert appointment: %w", err)
		}
		if err := appendAudit(ctx, tx, o.Audit); err != nil {
			return err
		}
		return outbox.Write(ctx, tx, evs...)
	})
}

// Update implements service.Repository.
func (s *Store) Update(ctx context.Context, a appointment.Appointment, expectedVersion int64, audit appointment.AuditEvent, evs ...events.Event) error {
	return s.update(ctx, a, expectedVersion, audit, nil, false, evs)
}

// UpdateAndOffer implements service.Repository.
func (s *Store) UpdateAndOffer(ctx context.Context, a appointment.Appointment, expectedVersion int64, audit appointment.AuditEvent,
	offer service.Offer, evs ...events.Event) error {
	return s.update(ctx, a, expectedVersion, audit, &offer, false, evs)
}

// Reschedule implements service.Repository.
func (s *Store) Reschedule(ctx context.Context, a appointment.Appointment, expectedVersion int64, o service.RescheduleOptions,
	evs ...events.Event) error {
	return s.update(ctx, a, expectedVersion, o.Audit, o.Offer, o.NoPatientOverlap, evs)
}

func (s *Store) update(ctx context.Context, a appointment.Appointment, expectedVersion int64, audit appointment.AuditEvent,
	offer *service.Offer, patientFree bool, evs []events.Event) error {
	return s.withLocks(ctx, func(tx *sql.Tx) error {
		return s.updateIn(ctx, tx, a, expectedVersion, audit, offer, patientFree, evs)
	})
}

// updateIn is Update (UpdateAndOffer with an offer) inside tx, which
// withLocks runs. With patientFree, a's time must not overlap another
// active appointment of its patient (a reschedule).
func (s *Store) updateIn(ctx context.Context, tx *sql.Tx, a appointment.Appointment, expectedVersion int64, audit appointment.AuditEvent,
	offer *service.Offer, patientFree bool, evs []events.Event) error {
	if offer != nil {
		waiting, err := anyWaiting(ctx, tx, *offer)
		if err != nil {
			return err
		}
		if !waiting {
			offer = nil
		}
	}
	patientFree = patientFree && a.Status.Occupies()
	if a.Status.Occupies() || offer != nil {
		// An offer queues behind the doctor's other offers too: it may lock
		// waits of neighbouring days it then does not take, which a
		// concurrent offer's SKIP LOCKED would pass over.
		locks := s.doctorLocks(a.DoctorID)
		if patientFree {
			// After the doctor's, as a booking takes them: the patient's
			// other writers queue, and the check below stays true.
			locks = append(locks, patientLock(a.PatientID))
		}
		if err := s.lockRows(ctx, tx, locks...); err != nil {
			return err
		}
	}
	if a.Status.Occupies() {
		if err := checkAll(ctx, tx, append(patientChecks(a, patientFree), s.overlapChecks(a)...)); err != nil {
			return err
		}
	}
	// One statement frees the old time and takes the new one.
	res, err := tx.ExecContext(ctx, `UPDATE appointments SET start_at = ?, end_at = ?, time_zone = ?, status = ?,
		cancellation_reason = ?, cancellation_note = ?, updated_by = ?, updated_at = ?, version = ?
		WHERE id = ? AND version = ?`,
		a.Start.UTC(), a.End.UTC(), a.TimeZone, string(a.Status), string(a.CancellationReason), a.CancellationNote,
		a.UpdatedBy, a.UpdatedAt.UTC(), a.Version, a.ID, expectedVersion)
	if isSlotViolation(err) {
		return appointment.ErrSlotTaken
	}
	if err != nil {
		return fmt.Errorf("update appointment: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM appointments WHERE id = ?`, a.ID).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return appointment.ErrNotFound
		case err != nil:
			return fmt.Errorf("check existence: %w", err)
		}
		return appointment.ErrStale
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	if err := outbox.Write(ctx, tx, evs...); err != nil {
		return err
	}
	if offer != nil {
		return s.offer(ctx, tx, *offer)
	}
	return nil
}

// Apply implements service.Repository. The claim comes first: a
// concurrent delivery of the same event waits on it, then finds it and
// changes nothing. withLocks may run fn again (a missing lock row), each
// time in a fresh transaction with a fresh claim.
func (s *Store) Apply(ctx context.Context, ev events.Event, now time.Time, fn func(ctx context.Context, tx service.Tx) error) (bool, error) {
	var fresh bool
	err := s.withLocks(ctx, func(tx *sql.Tx) error {
		var err error
		if fresh, err = inbox.Claim(ctx, tx, s.db.Dialect, ev, now); err != nil || !fresh {
			return err
		}
		return fn(ctx, txRepo{s: s, tx: tx})
	})
	if err != nil {
		return false, err
	}
	return fresh, nil
}

// txRepo is the store inside the transaction of one consumed event.
type txRepo struct {
	s  *Store
	tx *sql.Tx
}

func (r txRepo) Get(ctx context.Context, id string) (appointment.Appointment, error) {
	rows, err := r.tx.QueryContext(ctx, `SELECT `+columns+` FROM appointments WHERE id = ?`, id)
	return one(rows, err)
}

func (r txRepo) Update(ctx context.Context, a appointment.Appointment, expectedVersion int64, audit appointment.AuditEvent, evs ...events.Event) error {
	return r.s.updateIn(ctx, r.tx, a, expectedVersion, audit, nil, false, evs)
}

func (r txRepo) SetPatientStatus(ctx context.Context, patientID string, active bool, version int64, at time.Time) (bool, error) {
	// The patient's lock orders this with JoinWaitlist, which reads the
	// status under it: a wait is either stored before and removed by the
	// caller, or refused.
	if err := r.s.lockRows(ctx, r.tx, patientLock(patientID)); err != nil {
		return false, err
	}
	var known int64
	err := r.tx.QueryRowContext(ctx, `SELECT version FROM patient_status WHERE patient_id = ?`, patientID).Scan(&known)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = r.tx.ExecContext(ctx, `INSERT INTO patient_status (patient_id, active, version, changed_at) VALUES (?, ?, ?, ?)`,
			patientID, active, version, at.UTC())
	case err != nil:
		return false, fmt.Errorf("read patient status: %w", err)
	case version <= known:
		return false, nil
	default:
		err = updatePatientStatus(ctx, r.tx, patientID, active, version, at)
	}
	if err != nil {
		return false, fmt.Errorf("store patient status: %w", err)
	}
	return true, nil
}

// updatePatientStatus records the patient's status at version.
func updatePatientStatus(ctx context.Context, tx *sql.Tx, patientID string, active bool, version int64, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE patient_status SET active = ?, version = ?, changed_at = ? WHERE patient_id = ?`,
		active, version, at.UTC(), patientID)
	return err
}

func (r txRepo) RemoveWaits(ctx context.Context, patientID string, audit func(e appointment.WaitlistEntry) appointment.AuditEvent) (
	[]appointment.WaitlistEntry, error) {
	rows, err := r.tx.QueryContext(ctx, `SELECT `+waitlistColumns+` FROM waitlist WHERE patient_id = ? ORDER BY created_at, id`, patientID)
	if err != nil {
		return nil, fmt.Errorf("read the patient's waits: %w", err)
	}
	es, err := scanWaitlist(rows)
	if err != nil || len(es) == 0 {
		return es, err
	}
	if _, err := r.tx.ExecContext(ctx, `DELETE FROM waitlist WHERE patient_id = ?`, patientID); err != nil {
		return nil, fmt.Errorf("remove the patient's waits: %w", err)
	}
	evs := make([]appointment.AuditEvent, len(es))
	for i, e := range es {
		evs[i] = audit(e)
	}
	if err := appendAudit(ctx, r.tx, evs...); err != nil {
		return nil, err
	}
	return es, nil
}

// offer gives a freed time to the first patient waiting for the doctor's
// day that holds its start, other than the patient who held it (whose own
// wait stays): the entry leaves the list and the offer's event is written.
// An entry's day is the interval its join read in the doctor's zone of
// then; one stored before the interval was kept waits for o.Day.
// Entries another transaction is offering are skipped, so two freed slots
// go to two patients, and so are those of a patient whose record the
// patient service's events said is inactive (patient_status): that patient
// books nothing, and the offer goes to the next. A deactivation whose event
// has not arrived yet is not known here; no call to the patient service is
// made inside the transaction.
func (s *Store) offer(ctx context.Context, tx *sql.Tx, o service.Offer) error {
	// A day holding an instant is, in any zone (UTC-12 to UTC+14), the
	// instant's UTC date or one of its neighbours. One query per day keeps
	// to the (doctor_id, day, created_at, id) index in its order, so that
	// each reads and locks no more than its first match, and the oldest of
	// the three is taken; the other two, rarely more than none (entries
	// joined in different zones), stay locked until the commit and another
	// offer made meanwhile passes over them.
	q := `SELECT ` + waitlistColumns + ` FROM waitlist w WHERE doctor_id = ? AND day = ?
		AND ((day_from <= ? AND day_until > ?) OR (day_from IS NULL AND day = ?)) AND patient_id <> ?
		AND NOT EXISTS (SELECT 1 FROM patient_status ps WHERE ps.patient_id = w.patient_id AND NOT ps.active)
		ORDER BY created_at, id LIMIT 1`
	if s.db.Dialect != sqldb.SQLite {
		q += ` FOR UPDATE SKIP LOCKED`
	}
	start, utcDay := o.Start.UTC(), civil.Of(o.Start.UTC())
	var first *appointment.WaitlistEntry
	for d := -1; d <= 1; d++ {
		rows, err := tx.QueryContext(ctx, q, o.DoctorID, utcDay.AddDays(d).String(), start, start, o.Day, o.PatientID)
		if err != nil {
			return fmt.Errorf("first waiting patient: %w", err)
		}
		entries, err := scanWaitlist(rows)
		if err != nil {
			return err
		}
		if len(entries) == 1 && (first == nil || entries[0].CreatedAt.Before(first.CreatedAt) ||
			entries[0].CreatedAt.Equal(first.CreatedAt) && entries[0].ID < first.ID) {
			first = &entries[0]
		}
	}
	if first == nil {
		return nil
	}
	e := *first
	if _, err := tx.ExecContext(ctx, `DELETE FROM waitlist WHERE id = ?`, e.ID); err != nil {
		return fmt.Errorf("take waitlist entry: %w", err)
	}
	if o.Audit != nil {
		if err := appendAudit(ctx, tx, o.Audit(e)); err != nil {
			return err
		}
	}
	ev, err := o.Event(e)
	if err != nil {
		return err
	}
	return outbox.Write(ctx, tx, ev)
}

// anyWaiting reports whether anyone waits for the doctor on a day that may
// hold o's time (offer reads which). Most freed slots have nobody waiting,
// and their change then takes no doctor's lock and reads no more. A wait
// joined meanwhile, not committed yet, is not seen here, as it would not be
// by the offer's own reads.
func anyWaiting(ctx context.Context, tx *sql.Tx, o service.Offer) (bool, error) {
	d := civil.Of(o.Start.UTC())
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM waitlist WHERE doctor_id = ? AND day >= ? AND day <= ? LIMIT 1`,
		o.DoctorID, d.AddDays(-1).String(), d.AddDays(1).String()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("anyone waiting: %w", err)
	}
	return true, nil
}

const waitlistColumns = `id, doctor_id, day, patient_id, patient_user_id, created_at, day_from, day_until, time_zone`

func scanWaitlist(rows *sql.Rows) ([]appointment.WaitlistEntry, error) {
	defer rows.Close()
	out := []appointment.WaitlistEntry{}
	for rows.Next() {
		var e appointment.WaitlistEntry
		var from, until sql.NullTime
		if err := rows.Scan(&e.ID, &e.DoctorID, &e.Day, &e.PatientID, &e.PatientUserID, &e.CreatedAt, &from, &until,
			&e.TimeZone); err != nil {
			return nil, fmt.Errorf("scan waitlist entry: %w", err)
		}
		e.CreatedAt = e.CreatedAt.UTC()
		if from.Valid && until.Valid {
			e.DayFrom, e.DayUntil = from.Time.UTC(), until.Time.UTC()
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read waitlist: %w", err)
	}
	return out, nil
}

// nullTime is t in UTC, NULL when zero.
func nullTime(t time.Time) sql.NullTime {
	return sql.NullTime{Time: t.UTC(), Valid: !t.IsZero()}
}

// JoinWaitlist implements service.Repository.
func (s *Store) JoinWaitlist(ctx context.Context, e appointment.WaitlistEntry, seen service.PatientSeen, since civil.Date,
	audit appointment.AuditEvent) error {
	return s.withLocks(ctx, func(tx *sql.Tx) error {
		// The patient's lock makes the count true until the insert commits.
		if err := s.lockRows(ctx, tx, patientLock(e.PatientID)); err != nil {
			return err
		}
		// A deactivation applied since the caller asked the patient service
		// is known here, under the same lock (txRepo.SetPatientStatus), and
		// wins; an older one yields to the fresher answer.
		var (
			active  bool
			version int64
		)
		err := tx.QueryRowContext(ctx, `SELECT active, version FROM patient_status WHERE patient_id = ?`, e.PatientID).Scan(&active, &version)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("read patient status: %w", err)
		case active:
		case seen.Disowned != 0 && version == seen.Disowned && seen.Version > 0 && seen.Version < version:
			// Later genuine events carry versions between the two: put the
			// status back where they apply.
			if err := updatePatientStatus(ctx, tx, e.PatientID, true, seen.Version, e.CreatedAt); err != nil {
				return fmt.Errorf("correct patient status: %w", err)
			}
		case seen.Version == 0 || version >= seen.Version:
			return &service.PatientInactiveError{Version: version}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM waitlist WHERE patient_id = ? AND day >= ?`,
			e.PatientID, since.String()).Scan(&n); err != nil {
			return fmt.Errorf("count waitlist entries: %w", err)
		}
		if n >= appointment.MaxWaitlistEntries {
			return appointment.ErrWaitlistFull
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO waitlist (`+waitlistColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.DoctorID, e.Day, e.PatientID, e.PatientUserID, e.CreatedAt.UTC(), nullTime(e.DayFrom), nullTime(e.DayUntil),
			e.TimeZone)
		if sqldb.IsUniqueViolation(err) {
			return appointment.ErrAlreadyWaiting
		}
		if err != nil {
			return fmt.Errorf("join waitlist: %w", err)
		}
		return appendAudit(ctx, tx, audit)
	})
}

// Waitlist implements service.Repository.
func (s *Store) Waitlist(ctx context.Context, patientUserID string, since civil.Date) ([]appointment.WaitlistEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+waitlistColumns+` FROM waitlist WHERE patient_user_id = ? AND day >= ?
		ORDER BY created_at, id LIMIT ?`, patientUserID, since.String(), appointment.MaxWaitlistEntries*2)
	if err != nil {
		return nil, fmt.Errorf("list waitlist: %w", err)
	}
	return scanWaitlist(rows)
}

// WaitlistEntry implements service.Repository.
func (s *Store) WaitlistEntry(ctx context.Context, id string) (appointment.WaitlistEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+waitlistColumns+` FROM waitlist WHERE id = ?`, id)
	if err != nil {
		return appointment.WaitlistEntry{}, fmt.Errorf("get waitlist entry: %w", err)
	}
	es, err := scanWaitlist(rows)
	if err != nil {
		return appointment.WaitlistEntry{}, err
	}
	if len(es) == 0 {
		return appointment.WaitlistEntry{}, appointment.ErrWaitlistNotFound
	}
	return es[0], nil
}

// LeaveWaitlist implements service.Repository.
func (s *Store) LeaveWaitlist(ctx context.Context, patientUserID, id string, audit appointment.AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM waitlist WHERE id = ? AND patient_user_id = ?`, id, patientUserID)
		if err != nil {
			return fmt.Errorf("leave waitlist: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("rows affected: %w", err)
		}
		if n == 0 {
			return appointment.ErrWaitlistNotFound
		}
		return appendAudit(ctx, tx, audit)
	})
}

// Get implements service.Repository.
func (s *Store) Get(ctx context.Context, id string) (appointment.Appointment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM appointments WHERE id = ?`, id)
	return one(rows, err)
}

// one reads the appointment of a query by id; appointment.ErrNotFound.
func one(rows *sql.Rows, err error) (appointment.Appointment, error) {
	if err != nil {
		return appointment.Appointment{}, fmt.Errorf("get appointment: %w", err)
	}
	list, err := scanAll(rows)
	if err != nil {
		return appointment.Appointment{}, err
	}
	if len(list) == 0 {
		return appointment.Appointment{}, appointment.ErrNotFound
	}
	return list[0], nil
}

func scanAll(rows *sql.Rows) ([]appointment.Appointment, error) {
	defer rows.Close()
	out := []appointment.Appointment{}
	for rows.Next() {
		var (
			a              appointment.Appointment
			status, reason string
		)
		if err := rows.Scan(&a.ID, &a.PatientID, &a.PatientUserID, &a.DoctorID, &a.DoctorUserID, &a.DoctorName, &a.TimeZone,
			&a.Start, &a.End, &status, &a.Reason, &reason, &a.CancellationNote, &a.BookedBy, &a.UpdatedBy,
			&a.CreatedAt, &a.UpdatedAt, &a.Version); err != nil {
			return nil, fmt.Errorf("scan appointment: %w", err)
		}
		a.Status, a.CancellationReason = appointment.Status(status), appointment.CancellationReason(reason)
		a.Start, a.End, a.CreatedAt, a.UpdatedAt = a.Start.UTC(), a.End.UTC(), a.CreatedAt.UTC(), a.UpdatedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read appointments: %w", err)
	}
	return out, nil
}

// List implements service.Repository.
func (s *Store) List(ctx context.Context, q service.Query) ([]appointment.Appointment, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v ...any) { where = append(where, cond); args = append(args, v...) }
	if q.PatientUserID != "" {
		add("patient_user_id = ?", q.PatientUserID)
	}
	if q.DoctorUserID != "" {
		add("doctor_user_id = ?", q.DoctorUserID)
	}
	if q.PatientID != "" {
		add("patient_id = ?", q.PatientID)
	}
	if q.DoctorID != "" {
		add("doctor_id = ?", q.DoctorID)
	}
	if len(q.Statuses) > 0 {
		ph := make([]string, len(q.Statuses))
		for i, st := range q.Statuses {
			ph[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "status IN ("+strings.Join(ph, ", ")+")")
	}
	if q.StartFrom != nil {
		add("start_at >= ?", q.StartFrom.UTC())
	}
	if q.StartBefore != nil {
		add("start_at < ?", q.StartBefore.UTC())
	}
	// An appointment ends at most MaxSpan after it starts: bounding the
	// start as well lets the (…, start_at, id) indexes skip the rest.
	if q.EndAfter != nil {
		add("end_at > ?", q.EndAfter.UTC())
		add("start_at > ?", q.EndAfter.UTC().Add(-MaxSpan))
	}
	if q.EndNotAfter != nil {
		add("end_at <= ?", q.EndNotAfter.UTC())
		add("start_at < ?", q.EndNotAfter.UTC())
	}
	order := "start_at, id"
	if q.After != nil {
		op := ">"
		if q.Order == service.Descending {
			op = "<"
		}
		add("(start_at "+op+" ? OR (start_at = ? AND id "+op+" ?))", q.After.Start.UTC(), q.After.Start.UTC(), q.After.ID)
	}
	if q.Order == service.Descending {
		order = "start_at DESC, id DESC"
	}
	var query string
	if q.ParticipantUserID != "" {
		// The user's appointments as the doctor, then as the patient with
		// another doctor (so none comes twice), each a range of its
		// (…_user_id, start_at, id) index cut at the limit, merged and cut
		// again: an OR of the two columns would leave the databases one of
		// those indexes at most.
		branch := func(cond string) string {
			w := append([]string{cond}, where...)
			return `SELECT ` + columns + ` FROM (SELECT ` + columns + ` FROM appointments WHERE ` +
				strings.Join(w, " AND ") + ` ORDER BY ` + order + ` LIMIT ?) `
		}
		all := append([]any{q.ParticipantUserID}, args...)
		all = append(all, q.Limit, q.ParticipantUserID, q.ParticipantUserID)
		all = append(all, args...)
		args = append(all, q.Limit)
		query = branch("doctor_user_id = ?") + `AS as_doctor UNION ALL ` +
			branch("patient_user_id = ? AND doctor_user_id <> ?") + `AS as_patient`
	} else {
		query = `SELECT ` + columns + ` FROM appointments`
		if len(where) > 0 {
			query += " WHERE " + strings.Join(where, " AND ")
		}
	}
	query += " ORDER BY " + order + " LIMIT ?"
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list appointments: %w", err)
	}
	return scanAll(rows)
}

// Taken implements service.Repository.
func (s *Store) Taken(ctx context.Context, doctorID string, from, to time.Time) ([]service.Range, error) {
	if !to.After(from) {
		return []service.Range{}, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT start_at, end_at FROM appointments
		WHERE doctor_id = ? AND start_at < ? AND start_at > ? AND end_at > ? AND status NOT IN `+free+`
		ORDER BY start_at LIMIT ?`,
		doctorID, to.UTC(), from.UTC().Add(-MaxSpan), from.UTC(), MaxTaken)
	if err != nil {
		return nil, fmt.Errorf("taken times: %w", err)
	}
	defer rows.Close()
	out := []service.Range{}
	for rows.Next() {
		var r service.Range
		if err := rows.Scan(&r.Start, &r.End); err != nil {
			return nil, fmt.Errorf("scan taken time: %w", err)
		}
		r.Start, r.End = r.Start.UTC(), r.End.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read taken times: %w", err)
	}
	return out, nil
}

// IdempotentBooking implements service.Repository.
func (s *Store) IdempotentBooking(ctx context.Context, userID, key string) (service.IdempotencyRecord, error) {
	var r service.IdempotencyRecord
	err := s.db.QueryRowContext(ctx, `SELECT request_hash, appointment_id, created_at FROM idempotency_keys WHERE user_id = ? AND idem_key = ?`,
		userID, key).Scan(&r.RequestHash, &r.AppointmentID, &r.CreatedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r, service.ErrKeyUnknown
	case err != nil:
		return r, fmt.Errorf("read idempotency key: %w", err)
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

// PurgeKeys implements service.Repository, in batches so that no statement
// holds locks for long.
func (s *Store) PurgeKeys(ctx context.Context, before time.Time) (int64, error) {
	q := sqldb.PurgeQuery(s.db.Dialect, "idempotency_keys", "user_id, idem_key", "created_at < ?", "")
	n, err := sqldb.Purge(ctx, s.db.ExecContext, q, before.UTC())
	if err != nil {
		return n, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return n, nil
}

// PurgeWaitlist implements service.Repository, in batches like PurgeKeys.
// Days are written YYYY-MM-DD, so they compare as strings. No index leads
// by day: each batch reads the table, which the cap and this purge keep
// small, and it runs hourly.
func (s *Store) PurgeWaitlist(ctx context.Context, before civil.Date) (int64, error) {
	q := sqldb.PurgeQuery(s.db.Dialect, "waitlist", "id", "day < ?", "")
	n, err := sqldb.Purge(ctx, s.db.ExecContext, q, before.String())
	if err != nil {
		return n, fmt.Errorf("purge waitlist: %w", err)
	}
	return n, nil
}

// PurgeInbox deletes the claims of consumed events made before before
// (shared/inbox.Retention ago), in batches, returning how many.
func (s *Store) PurgeInbox(ctx context.Context, before time.Time) (int64, error) {
	return inbox.Purge(ctx, s.db, s.db.Dialect, before)
}

// --- audit ------------------------------------------------------------------

const auditCols = "id, occurred_at, user_id, role, action, resource, patient_id, resource_id, outcome, request_id"

// maxAuditRows bounds one multi-row INSERT.
const maxAuditRows = 256

// execer is a database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// AppendAudit implements service.AuditRepository: multi-row INSERTs
// outside any transaction, each committed on its own.
func (s *Store) AppendAudit(ctx context.Context, evs ...appointment.AuditEvent) error {
	return appendAudit(ctx, s.db, evs...)
}

// appendAudit stores evs through x, leaving out an event without an ID
// (none).
func appendAudit(ctx context.Context, x execer, evs ...appointment.AuditEvent) error {
	args := make([]any, 0, 10*len(evs))
	for _, e := range evs {
		if e.ID == "" {
			continue
		}
		args = append(args, e.ID, e.OccurredAt.UTC(), e.UserID, e.Role, string(e.Action), e.Resource,
			e.PatientID, e.ResourceID, string(e.Outcome), e.RequestID)
	}
	for len(args) > 0 {
		n := min(len(args)/10, maxAuditRows)
		if _, err := x.ExecContext(ctx, "INSERT INTO audit_events ("+auditCols+") VALUES "+sqldb.Rows(10, n), args[:n*10]...); err != nil {
			return fmt.Errorf("append audit events: %w", err)
		}
		args = args[n*10:]
	}
	return nil
}

// ListAudit implements service.AuditRepository: a patient's events, newest
// first (ids are UUIDv7, ordered by time), in keyset pages by id.
func (s *Store) ListAudit(ctx context.Context, q appointment.AuditQuery) (page.Page[appointment.AuditEvent], error) {
	limit := page.ClampLimit(q.Limit)
	args := []any{q.PatientID}
	where := "patient_id = ?"
	if q.Cursor != "" {
		after, err := page.DecodeKeys(q.Cursor, 1)
		if err != nil {
			return page.Page[appointment.AuditEvent]{}, err
		}
		where += " AND id < ?"
		args = append(args, after[0])
	}
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, "SELECT "+auditCols+" FROM audit_events WHERE "+where+" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return page.Page[appointment.AuditEvent]{}, fmt.Errorf("list audit events: %w", err)
	}
	items, err := sqldb.Collect(rows, scanAuditEvent)
	if err != nil {
		return page.Page[appointment.AuditEvent]{}, fmt.Errorf("list audit events: %w", err)
	}
	return page.Cut(items, limit, func(last appointment.AuditEvent) []string { return []string{last.ID} }), nil
}

func scanAuditEvent(sc sqldb.Scanner) (appointment.AuditEvent, error) {
	var (
		e               appointment.AuditEvent
		action, outcome string
	)
	if err := sc.Scan(&e.ID, &e.OccurredAt, &e.UserID, &e.Role, &action, &e.Resource, &e.PatientID,
		&e.ResourceID, &outcome, &e.RequestID); err != nil {
		return appointment.AuditEvent{}, err
	}
	e.Action, e.Outcome, e.OccurredAt = appointment.Action(action), appointment.Outcome(outcome), e.OccurredAt.UTC()
	return e, nil
}
