package service

import (
	"context"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/page"
)

func (s *service) ListSpecializations(ctx context.Context, actor authn.Principal, limit int, cursor string) (page.Page[profile.Specialization], error) {
	if err := authenticated(actor); err != nil {
		return page.Page[profile.Specialization]{}, err
	}
	limit, err := limitOr(limit)
	if err != nil {
		return page.Page[profile.Specialization]{}, err
	}
	// The cursor is the name key of the last specialization of a page.
	var after string
	if err := page.DecodeCursor(cursor, &after); err != nil {
		return page.Page[profile.Specialization]{}, err
	}
	// PostgreSQL refuses NUL and invalid UTF-8 in a compared value.
	if profile.HasControl(after) {
		return page.Page[profile.Specialization]{}, page.ErrCursor
	}
	items, err := s.repo.ListSpecializations(ctx, after, limit+1)
	if err != nil {
		return page.Page[profile.Specialization]{}, err
	}
	out := page.Page[profile.Specialization]{Items: items}
	if len(items) > limit {
		out.Items = items[:limit]
		out.NextCursor = page.EncodeCursor(profile.NameKey(out.Items[limit-1].Name))
	}
	return out, nil
}

func (s *service) GetSpecialization(ctx context.Context, actor authn.Principal, id string) (profile.Specialization, error) {
	if err := authenticated(actor); err != nil {
		return profile.Specialization{}, err
	}
	id, err := parseID("id", id)
	if err != nil {
		return profile.Specialization{}, err
	}
	return s.repo.GetSpecialization(ctx, id)
}

func (s *service) CreateSpecialization(ctx context.Context, actor authn.Principal, in SpecializationInput) (profile.Specialization, error) {
	if err := requireAdmin(actor); err != nil {
		return profile.Specialization{}, err
	}
	var fe domainerr.FieldErrors
	in.refuseAll(&fe, "id")
	if err := fe.Err(); err != nil {
		return profile.Specialization{}, err
	}
	now := s.now()
	sp := profile.Specialization{ID: s.newID(), Name: in.Name, Description: in.Description, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := sp.Normalize(); err != nil {
		return profile.Specialization{}, err
	}
	if err := s.repo.CreateSpecialization(ctx, sp); err != nil {
		return profile.Specialization{}, err
	}
	return sp, nil
}

func (s *service) UpdateSpecialization(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in SpecializationInput) (profile.Specialization, error) {
	if err := requireAdmin(actor); err != nil {
		return profile.Specialization{}, err
	}
	id, err := parseID("id", id)
	if err != nil {
		return profile.Specialization{}, err
	}
	if ifMatch == 0 {
		return profile.Specialization{}, profile.ErrPreconditionRequired
	}
	cur, err := s.repo.GetSpecialization(ctx, id)
	if err != nil {
		return profile.Specialization{}, err
	}
	if ifMatch != cur.Version {
		return profile.Specialization{}, domainerr.StaleFor(ifMatch, profile.ErrStale)
	}
	var fe domainerr.FieldErrors
	in.refuseChanged(&fe, "id", cur.ID, cur.Version, cur.CreatedAt, cur.UpdatedAt)
	if err := fe.Err(); err != nil {
		return profile.Specialization{}, err
	}
	sp := profile.Specialization{ID: id, Name: in.Name, Description: in.Description, UpdatedAt: s.now()}
	if err := sp.Normalize(); err != nil {
		return profile.Specialization{}, err
	}
	// The store checks the version again: another write may come between.
	return s.repo.UpdateSpecialization(ctx, sp, ifMatch)
}

func (s *service) DeleteSpecialization(ctx context.Context, actor authn.Principal, id string) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	id, err := parseID("id", id)
	if err != nil {
		return err
	}
	return s.repo.DeleteSpecialization(ctx, id)
}
