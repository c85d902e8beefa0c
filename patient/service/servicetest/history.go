package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/ids"
)

// RunHistoryRepositoryContract checks a HistoryRepository: entries belong
// to one patient, every revision is kept, versions are optimistic, and
// lists filter, hide entries in error unless asked, and page by recording
// order. newRepos returns the repositories over an empty store.
func RunHistoryRepositoryContract(t *testing.T, newRepos func(t *testing.T) Repositories) {
	ctx := context.Background()
	s := newRepos(t)
	p := newPatient("Ada", "Lovelace", "")
	require.NoError(t, s.CreatePatient(ctx, p, event(p.ID, patient.ActionCreate)))
	other := newPatient("Grace", "Hopper", "")
	require.NoError(t, s.CreatePatient(ctx, other, event(other.ID, patient.ActionCreate)))

	e := entry(p.ID, patient.TypeAllergy, patient.StatusActive)
	require.NoError(t, s.CreateEntry(ctx, e, event(p.ID, patient.ActionCreate)))
	got, err := s.EntryByID(ctx, p.ID, e.ID)
	require.NoError(t, err)
	assert.Equal(t, e, got)
	_, err = s.EntryByID(ctx, other.ID, e.ID)
	assert.ErrorIs(t, err, patient.ErrNotFound, "an entry is found only under its own patient")

	bad := entry(ids.New(), patient.TypeNote, patient.StatusActive)
	assert.ErrorIs(t, s.CreateEntry(ctx, bad, event(bad.PatientID, patient.ActionCreate)), patient.ErrNotFound)

	amended := e
	amended.Description, amended.Status, amended.EndDate = "Peanut allergy, outgrown", patient.StatusResolved, civil.MustParse("2010-01-01")
	amended.AmendedBy, amended.AmendedAt, amended.Version = "doctor-2", t0.Add(time.Hour), 2
	require.NoError(t, s.UpdateEntry(ctx, amended, event(p.ID, patient.ActionUpdate)))
	assert.ErrorIs(t, s.UpdateEntry(ctx, amended, event(p.ID, patient.ActionUpdate)), patient.ErrStaleVersion)
	wrong := amended
	wrong.PatientID, wrong.Version = other.ID, 3
	assert.ErrorIs(t, s.UpdateEntry(ctx, wrong, event(other.ID, patient.ActionUpdate)), patient.ErrNotFound)

	retracted := amended
	retracted.Status, retracted.Version = patient.StatusEnteredInError, 3
	require.NoError(t, s.UpdateEntry(ctx, retracted, event(p.ID, patient.ActionDelete)))

	revs, err := s.Revisions(ctx, p.ID, e.ID)
	require.NoError(t, err)
	require.Len(t, revs, 3)
	assert.Equal(t, e, revs[0], "the first revision is kept as recorded")
	assert.Equal(t, amended, revs[1])
	assert.Equal(t, retracted, revs[2])
	revs, err = s.Revisions(ctx, other.ID, e.ID)
	require.NoError(t, err)
	assert.Empty(t, revs)

	cond := entry(p.ID, patient.TypeCondition, patient.StatusActive)
	med := entry(p.ID, patient.TypeMedication, patient.StatusInactive)
	med.Severity = ""
	require.NoError(t, s.CreateEntry(ctx, cond, event(p.ID, patient.ActionCreate)))
	require.NoError(t, s.CreateEntry(ctx, med, event(p.ID, patient.ActionCreate)))
	require.NoError(t, s.CreateEntry(ctx, entry(other.ID, patient.TypeCondition, patient.StatusActive), event(other.ID, patient.ActionCreate)))

	listed := func(q patient.HistoryQuery) []string {
		t.Helper()
		q.PatientID = p.ID
		got, err := s.ListEntries(ctx, q)
		require.NoError(t, err)
		var out []string
		for _, e := range got.Items {
			out = append(out, e.ID)
		}
		return out
	}
	assert.Equal(t, []string{cond.ID, med.ID}, listed(patient.HistoryQuery{}), "entered-in-error is left out unless asked for")
	assert.Equal(t, []string{e.ID}, listed(patient.HistoryQuery{Statuses: []patient.EntryStatus{patient.StatusEnteredInError}}))
	assert.Equal(t, []string{cond.ID}, listed(patient.HistoryQuery{Types: []patient.EntryType{patient.TypeCondition}}))
	assert.Equal(t, []string{med.ID}, listed(patient.HistoryQuery{Statuses: []patient.EntryStatus{patient.StatusInactive}}))
	assert.Equal(t, []string{e.ID, cond.ID}, listed(patient.HistoryQuery{
		Types:    []patient.EntryType{patient.TypeAllergy, patient.TypeCondition},
		Statuses: []patient.EntryStatus{patient.StatusActive, patient.StatusEnteredInError}}))

	first, err := s.ListEntries(ctx, patient.HistoryQuery{PatientID: p.ID, Limit: 1})
	require.NoError(t, err)
	require.Len(t, first.Items, 1)
	require.NotEmpty(t, first.NextCursor)
	second, err := s.ListEntries(ctx, patient.HistoryQuery{PatientID: p.ID, Limit: 1, Cursor: first.NextCursor})
	require.NoError(t, err)
	assert.Equal(t, med.ID, second.Items[0].ID)
	assert.Empty(t, second.NextCursor)
	_, err = s.ListEntries(ctx, patient.HistoryQuery{PatientID: p.ID, Cursor: "%%%"})
	AssertCursorRefused(t, err)
}
