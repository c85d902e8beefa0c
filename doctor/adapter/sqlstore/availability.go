package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/sqldb"
)

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
		d, err := civil.Parse(day)
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
