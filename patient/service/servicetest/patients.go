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

// RunPatientRepositoryContract checks a PatientRepository: records round
// trip unchanged, one profile per user, optimistic versions, and the audit
// event of a write stored with it or not at all. newRepos returns the
// repositories over an empty store.
func RunPatientRepositoryContract(t *testing.T, newRepos func(t *testing.T) Repositories) {
	ctx := context.Background()
	s := newRepos(t)

	p := newPatient("Ada", "Lovelace", ids.New())
	require.NoError(t, s.CreatePatient(ctx, p, event(p.ID, patient.ActionCreate)))
	assert.Equal(t, 1, auditCount(t, s, p.ID), "the create event is stored with the patient")

	got, err := s.PatientByID(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p, got)
	got, err = s.PatientByUserID(ctx, p.UserID)
	require.NoError(t, err)
	assert.Equal(t, p.ID, got.ID)

	_, err = s.PatientByID(ctx, ids.New())
	assert.ErrorIs(t, err, patient.ErrNotFound)
	_, err = s.PatientByUserID(ctx, "")
	assert.ErrorIs(t, err, patient.ErrNotFound)

	t.Run("second profile for a user conflicts and leaves no audit event", func(t *testing.T) {
		dup := newPatient("Other", "Person", p.UserID)
		err := s.CreatePatient(ctx, dup, event(dup.ID, patient.ActionCreate))
		assert.ErrorIs(t, err, patient.ErrProfileExists)
		assert.Equal(t, 0, auditCount(t, s, dup.ID))
	})

	t.Run("patients without an account may be many", func(t *testing.T) {
		for range 2 {
			q := newPatient("Walk", "In", "")
			require.NoError(t, s.CreatePatient(ctx, q, event(q.ID, patient.ActionCreate)))
			got, err := s.PatientByID(ctx, q.ID)
			require.NoError(t, err)
			assert.Empty(t, got.UserID)
		}
	})

	t.Run("update checks the version", func(t *testing.T) {
		next := p
		next.FirstName, next.Version, next.UpdatedAt = "Augusta Ada", 2, t0.Add(time.Hour)
		next.Address = patient.Address{}
		require.NoError(t, s.UpdatePatient(ctx, next, event(p.ID, patient.ActionUpdate)))
		got, err := s.PatientByID(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, next, got)
		assert.Equal(t, 2, auditCount(t, s, p.ID))

		stale := p
		stale.Version = 2 // from version 1, which is no longer stored
		assert.ErrorIs(t, s.UpdatePatient(ctx, stale, event(p.ID, patient.ActionUpdate)), patient.ErrStaleVersion)
		assert.Equal(t, 2, auditCount(t, s, p.ID), "a failed update writes no event")

		missing := newPatient("No", "Body", "")
		missing.Version = 2
		assert.ErrorIs(t, s.UpdatePatient(ctx, missing, event(missing.ID, patient.ActionUpdate)), patient.ErrNotFound)
	})

	t.Run("update to another user's id conflicts", func(t *testing.T) {
		q := newPatient("Grace", "Hopper", ids.New())
		require.NoError(t, s.CreatePatient(ctx, q, event(q.ID, patient.ActionCreate)))
		q.UserID, q.Version = p.UserID, 2
		assert.ErrorIs(t, s.UpdatePatient(ctx, q, event(q.ID, patient.ActionUpdate)), patient.ErrProfileExists)
	})
}

// RunPatientSearchContract checks SearchPatients: name prefixes matched
// case-insensitively against last or first name, wildcards taken
// literally, accents counting, exact filters, and keyset pages that cover every match once,
// stable under inserts. newRepos returns the repositories over an empty
// store.
func RunPatientSearchContract(t *testing.T, newRepos func(t *testing.T) Repositories) {
	ctx := context.Background()
	s := newRepos(t)
	names := [][2]string{
		{"John", "Smith"}, {"Jane", "Smithers"}, {"Smitty", "Jones"}, {"Anna", "Smith"}, {"Bob", "Brown"},
		{"Smith", "Smith"}, {"Zoe", "O'Neil"}, {"Al", "100%_Pure"}, {"Ünal", "Çelik"},
		{"Ada", "Lovelace"}, {"Adá", "Lovelace"}, {"Élodie", "Durand"},
	}
	for i, n := range names {
		p := newPatient(n[0], n[1], "")
		if i == 4 {
			p.DateOfBirth = civil.MustParse("1999-12-31")
			p.Email = "Bob@Example.ORG"
		}
		require.NoError(t, s.CreatePatient(ctx, p, event(p.ID, patient.ActionCreate)))
	}

	search := func(q patient.SearchQuery) []string {
		t.Helper()
		found, err := s.SearchPatients(ctx, q)
		require.NoError(t, err)
		var out []string
		for _, p := range found.Items {
			out = append(out, p.FirstName+" "+p.LastName)
		}
		return out
	}
	// Ordered by the matching name, then the other name: last-name
	// matches and first-name matches interleave.
	assert.Equal(t, []string{"Anna Smith", "John Smith", "Smith Smith", "Jane Smithers"},
		search(patient.SearchQuery{Query: "SMITH"}))
	assert.Equal(t, []string{"Anna Smith", "John Smith", "Smith Smith", "Jane Smithers", "Smitty Jones"},
		search(patient.SearchQuery{Query: "  smi"}))
	assert.Equal(t, []string{"Jane Smithers", "John Smith", "Smitty Jones"}, search(patient.SearchQuery{Query: "j"}))
	assert.Equal(t, []string{"Al 100%_Pure"}, search(patient.SearchQuery{Query: "100%_"}))
	assert.Empty(t, search(patient.SearchQuery{Query: "%"}), "wildcards are literal")
	assert.Empty(t, search(patient.SearchQuery{Query: "_"}))
	assert.Equal(t, []string{"Zoe O'Neil"}, search(patient.SearchQuery{Query: "o'n"}))
	assert.Equal(t, []string{"Ünal Çelik"}, search(patient.SearchQuery{Query: "ün"}))
	assert.Equal(t, []string{"Bob Brown"}, search(patient.SearchQuery{DateOfBirth: civil.MustParse("1999-12-31")}))
	assert.Equal(t, []string{"Bob Brown"}, search(patient.SearchQuery{Email: "bob@example.org"}))
	assert.Equal(t, []string{"Bob Brown"}, search(patient.SearchQuery{Query: "b", Email: "BOB@example.org"}))
	assert.Empty(t, search(patient.SearchQuery{Query: "smith", DateOfBirth: civil.MustParse("1999-12-31")}))
	// Accents count, on every database: another letter is another name,
	// and another address another mailbox.
	assert.Equal(t, []string{"Ada Lovelace"}, search(patient.SearchQuery{Email: "ada.lovelace@example.org"}))
	assert.Equal(t, []string{"Adá Lovelace"}, search(patient.SearchQuery{Email: "ADÁ.lovelace@example.org"}))
	assert.Equal(t, []string{"Ada Lovelace"}, search(patient.SearchQuery{Query: "ada"}))
	assert.Equal(t, []string{"Adá Lovelace"}, search(patient.SearchQuery{Query: "adá"}))
	assert.Empty(t, search(patient.SearchQuery{Query: "elo"}), "'elo' does not begin 'Élodie'")
	assert.Equal(t, []string{"Élodie Durand"}, search(patient.SearchQuery{Query: "élo"}))
	assert.Len(t, search(patient.SearchQuery{}), len(names))

	t.Run("keyset pages cover every match once, stable under inserts", func(t *testing.T) {
		for _, q := range []string{"", "smi", "j"} {
			want := search(patient.SearchQuery{Query: q, Limit: 100})
			var got []string
			cursor := ""
			for i := 0; ; i++ {
				found, err := s.SearchPatients(ctx, patient.SearchQuery{Query: q, Limit: 2, Cursor: cursor})
				require.NoError(t, err)
				for _, p := range found.Items {
					got = append(got, p.FirstName+" "+p.LastName)
				}
				if i == 0 {
					// A patient inserted before the first page's keys does not shift later pages.
					early := newPatient("Aaron", "Aardvark", "")
					require.NoError(t, s.CreatePatient(ctx, early, event(early.ID, patient.ActionCreate)))
				}
				if found.NextCursor == "" {
					break
				}
				cursor = found.NextCursor
			}
			assert.Equal(t, want, got, "query %q", q)
		}
	})

	_, err := s.SearchPatients(ctx, patient.SearchQuery{Cursor: "not-a-cursor"})
	AssertCursorRefused(t, err)
}
