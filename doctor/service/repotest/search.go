package repotest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/ids"
)

func testSearchDoctors(t *testing.T, s service.Repository) {
	ctx := context.Background()
	card := mkSpec(t, s, "Cardiology")
	neuro := mkSpec(t, s, "Neurology")
	names := [][2]string{
		{"Ada", "Lovelace"}, {"Alan", "Turing"}, {"Grace", "Hopper"}, {"Edsger", "Dijkstra"}, {"Barbara", "Liskov"},
		{"Donald", "Knuth"}, {"Ken", "Thompson"}, {"Dennis", "Ritchie"}, {"Tony", "Hoare"}, {"John", "Backus"},
		{"Frances", "Allen"}, {"Adele", "Goldberg"}, {"Radia", "Perlman"}, {"Leslie", "Lamport"}, {"Niklaus", "Wirth"},
		{"Ada", "Turing"}, {"Alan", "Kay"}, {"Fran", "100%_Sure"},
	}
	byName := map[string]string{}
	for i, n := range names {
		d := mkDoctor(t, s, n[0], n[1], func(d *profile.Doctor) {
			if i%2 == 0 {
				d.SpecializationIDs = []string{card.ID}
				d.Languages = []string{"en", "de"}
			} else {
				d.SpecializationIDs = []string{neuro.ID}
			}
		})
		byName[n[0]+" "+n[1]] = d.ID
	}
	inactive := mkDoctor(t, s, "Ada", "Zombie", func(d *profile.Doctor) { d.Active = false })

	search := func(q service.Query) []string {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 100
		}
		docs, err := s.SearchDoctors(ctx, q)
		require.NoError(t, err)
		out := make([]string, len(docs))
		for i, d := range docs {
			out[i] = d.FirstName + " " + d.LastName
		}
		return out
	}

	all := search(service.Query{})
	require.Len(t, all, len(names), "inactive doctors are not listed")
	assert.NotContains(t, all, "Ada Zombie")
	assert.Equal(t, "Fran 100%_Sure", all[0])
	assert.Equal(t, "Frances Allen", all[1])
	assert.Equal(t, "Niklaus Wirth", all[len(all)-1])
	_ = inactive

	t.Run("keyset pages cover everything once", func(t *testing.T) {
		var seen []string
		var after *service.Cursor
		for page := 0; page < 10; page++ {
			docs, err := s.SearchDoctors(ctx, service.Query{Limit: 4, After: after})
			require.NoError(t, err)
			for _, d := range docs {
				seen = append(seen, d.FirstName+" "+d.LastName)
			}
			if len(docs) < 4 {
				break
			}
			last := docs[len(docs)-1]
			after = &service.Cursor{LastName: last.LastName, FirstName: last.FirstName, ID: last.ID}
			// A doctor inserted mid-way does not disturb the walk.
			if page == 1 {
				mkDoctor(t, s, "Zed", "Aardvark")
			}
		}
		assert.Equal(t, all, seen)
	})
	t.Run("name prefixes", func(t *testing.T) {
		assert.Equal(t, []string{"Ada Lovelace", "Ada Turing"}, search(service.Query{NamePrefixes: []string{"ada"}}))
		assert.Equal(t, []string{"Alan Kay", "Alan Turing"}, search(service.Query{NamePrefixes: []string{"ALAN"}}))
		assert.Equal(t, []string{"Ada Turing", "Alan Turing"}, search(service.Query{NamePrefixes: []string{"tur"}}))
		assert.Equal(t, []string{"Ada Turing"}, search(service.Query{NamePrefixes: []string{"tur", "ad"}}))
		assert.Equal(t, []string{"Fran 100%_Sure"}, search(service.Query{NamePrefixes: []string{"100%"}}))
		assert.Empty(t, search(service.Query{NamePrefixes: []string{"%"}}), "wildcards are literal")
		assert.Empty(t, search(service.Query{NamePrefixes: []string{"_"}}))
	})
	t.Run("specialization and language", func(t *testing.T) {
		byCard := search(service.Query{SpecializationID: card.ID})
		assert.Len(t, byCard, 9)
		assert.Contains(t, byCard, "Ada Lovelace")
		assert.Equal(t, byCard, search(service.Query{Language: "de"}))
		assert.Len(t, search(service.Query{Language: "en"}), len(names)+1, "with the doctor added while paging")
		assert.Equal(t, []string{"Ada Lovelace"}, search(service.Query{SpecializationID: card.ID, NamePrefixes: []string{"ada"}}))
		assert.Empty(t, search(service.Query{SpecializationID: ids.New()}))
	})
	t.Run("hyphenated and multi-word names", func(t *testing.T) {
		mkDoctor(t, s, "Mary Ann", "Smith-Jones")
		assert.Equal(t, []string{"Mary Ann Smith-Jones"}, search(service.Query{NamePrefixes: []string{"jon"}}))
		assert.Equal(t, []string{"Mary Ann Smith-Jones"}, search(service.Query{NamePrefixes: []string{"smith-j"}}))
		assert.Equal(t, []string{"Mary Ann Smith-Jones"}, search(service.Query{NamePrefixes: []string{"ann", "mar"}}))
	})
	t.Run("a renamed doctor moves in every order", func(t *testing.T) {
		cur, err := s.GetDoctor(ctx, byName["Grace Hopper"])
		require.NoError(t, err)
		cur.LastName = "Aaronson"
		_, err = s.UpdateDoctor(ctx, cur, 0)
		require.NoError(t, err)
		assert.Equal(t, "Grace Aaronson", search(service.Query{SpecializationID: card.ID})[0])
		assert.Equal(t, "Grace Aaronson", search(service.Query{Language: "de"})[0])
		assert.Equal(t, []string{"Grace Aaronson"}, search(service.Query{NamePrefixes: []string{"aaro"}}))
		assert.Empty(t, search(service.Query{NamePrefixes: []string{"hop"}}))
		cur.LastName = "Hopper"
		_, err = s.UpdateDoctor(ctx, cur, 0)
		require.NoError(t, err)
	})
	t.Run("keyset pages under a filter", func(t *testing.T) {
		want := search(service.Query{SpecializationID: card.ID, Language: "en"})
		var got []string
		var after *service.Cursor
		for range 10 {
			docs, err := s.SearchDoctors(ctx, service.Query{SpecializationID: card.ID, Language: "en", Limit: 2, After: after})
			require.NoError(t, err)
			for _, d := range docs {
				got = append(got, d.FirstName+" "+d.LastName)
			}
			if len(docs) < 2 {
				break
			}
			last := docs[len(docs)-1]
			after = &service.Cursor{LastName: last.LastName, FirstName: last.FirstName, ID: last.ID}
		}
		assert.Equal(t, want, got)
		assert.Len(t, got, 9)
	})
	t.Run("available on a date", func(t *testing.T) {
		monday := civil.New(2027, time.March, 1)
		put := func(name string, a schedule.Availability) {
			a.DoctorID = byName[name]
			a.SlotMinutes = 30
			a.UpdatedAt = t0
			_, err := s.ReplaceAvailability(ctx, a, 0)
			require.NoError(t, err)
		}
		var weekly schedule.Availability
		weekly.Weekly[time.Monday] = []schedule.Interval{{Start: 540, End: 720}}
		put("Ada Lovelace", weekly)
		put("Alan Turing", weekly)
		dayOff := weekly
		dayOff.Exceptions = []schedule.Exception{{Date: monday}}
		put("Grace Hopper", dayOff)
		extra := schedule.Availability{Exceptions: []schedule.Exception{{Date: monday, Intervals: []schedule.Interval{{Start: 600, End: 660}}}}}
		put("Donald Knuth", extra)

		assert.Equal(t, []string{"Donald Knuth", "Ada Lovelace", "Alan Turing"}, search(service.Query{AvailableOn: &monday}))
		assert.Equal(t, []string{"Ada Lovelace"}, search(service.Query{AvailableOn: &monday, SpecializationID: card.ID, Language: "de"}))
		assert.Equal(t, []string{"Donald Knuth", "Alan Turing"}, search(service.Query{AvailableOn: &monday, SpecializationID: neuro.ID}))
		tuesday := monday.AddDays(1)
		assert.Empty(t, search(service.Query{AvailableOn: &tuesday}))
		nextMonday := monday.AddDays(7)
		assert.Equal(t, []string{"Grace Hopper", "Ada Lovelace", "Alan Turing"}, search(service.Query{AvailableOn: &nextMonday}))
	})
}

// testNameOrderIgnoresCase checks that doctors are listed, and paged, in
// name order regardless of case, on every walk search takes, as a clinic's
// staff expect "de Vries" beside "Davis" rather than after "Evans".
func testNameOrderIgnoresCase(t *testing.T, s service.Repository) {
	ctx := context.Background()
	sp := mkSpec(t, s, "General practice")
	for _, n := range [][2]string{{"Cy", "Evans"}, {"dan", "DEVLIN"}, {"Anna", "de Vries"}, {"Bob", "Davis"}, {"al", "Davis"}, {"Al", "davis"}} {
		mkDoctor(t, s, n[0], n[1], func(d *profile.Doctor) {
			d.SpecializationIDs = []string{sp.ID}
			d.Languages = []string{"nl"}
		})
	}
	for _, q := range []service.Query{{}, {SpecializationID: sp.ID}, {Language: "nl"}, {SpecializationID: sp.ID, Language: "nl"}} {
		var got []string
		var after *service.Cursor
		for range 10 {
			q.Limit, q.After = 1, after
			docs, err := s.SearchDoctors(ctx, q)
			require.NoError(t, err)
			if len(docs) == 0 {
				break
			}
			d := docs[0]
			got = append(got, strings.ToLower(d.FirstName+" "+d.LastName))
			after = &service.Cursor{LastName: d.LastName, FirstName: d.FirstName, ID: d.ID}
		}
		require.Len(t, got, 6, "%+v: every doctor once, one per page: %v", q, got)
		// "al Davis" and "Al davis" are equal names, in id order.
		assert.Equal(t, []string{"al davis", "al davis", "bob davis", "anna de vries", "dan devlin", "cy evans"}, got, "%+v", q)
	}
}
