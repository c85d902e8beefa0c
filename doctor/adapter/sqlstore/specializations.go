package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/shared/sqldb"
)

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
