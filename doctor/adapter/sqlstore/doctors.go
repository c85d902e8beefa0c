package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
)

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

var errUnknownSpecialization = domainerr.Field("specializationIds", "names a specialization that does not exist")

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
	if !ids.Valid(userID) {
		// Profiles are linked to UUIDs only; PostgreSQL's uuid column would
		// refuse the comparison instead of finding nothing.
		return profile.Doctor{}, profile.ErrDoctorNotFound
	}
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
