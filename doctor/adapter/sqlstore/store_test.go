package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func each(t *testing.T, fn func(t *testing.T, s *sqlstore.Store)) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) { fn(t, sqlstore.New(db)) })
}

func mkSpec(t *testing.T, s *sqlstore.Store, name string) profile.Specialization {
	t.Helper()
	sp := profile.Specialization{ID: newID(), Name: name, Description: "about " + name, Version: 1, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, s.CreateSpecialization(context.Background(), sp))
	return sp
}

func mkDoctor(t *testing.T, s *sqlstore.Store, first, last string, mutate ...func(*profile.Doctor)) profile.Doctor {
	t.Helper()
	d := profile.Doctor{
		ID: newID(), UserID: newID(), FirstName: first, LastName: last, Email: first + "@example.org",
		LicenseNumber: "LIC-" + newID()[24:], TimeZone: "Europe/Berlin", AppointmentMinutes: 30,
		Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0, Languages: []string{"en"},
	}
	for _, m := range mutate {
		m(&d)
	}
	a := schedule.Default(d.ID, d.AppointmentMinutes)
	a.Version, a.UpdatedAt = 1, t0
	require.NoError(t, s.CreateDoctor(context.Background(), d, a))
	return d
}

func TestDoctors(t *testing.T) {
	each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		card := mkSpec(t, s, "Cardiology")
		derm := mkSpec(t, s, "Dermatology")
		d := mkDoctor(t, s, "Ada", "Lovelace", func(d *profile.Doctor) {
			d.SpecializationIDs = []string{derm.ID, card.ID}
			d.Languages = []string{"fr", "en", "pt-BR"}
			d.Bio, d.Phone = "Physician.", "+14155550123"
		})

		got, err := s.GetDoctor(ctx, d.ID)
		require.NoError(t, err)
		assert.Equal(t, d.UserID, got.UserID)
		assert.Equal(t, "Ada", got.FirstName)
		assert.Equal(t, "+14155550123", got.Phone)
		assert.Equal(t, []string{card.ID, derm.ID}, got.SpecializationIDs, "in name order")
		assert.Equal(t, "Cardiology", got.Specializations[0].Name)
		assert.Equal(t, []string{"fr", "en", "pt-BR"}, got.Languages, "in the order given")
		assert.True(t, got.Active)
		assert.Equal(t, int64(1), got.Version)
		assert.True(t, got.CreatedAt.Equal(t0), "%s", got.CreatedAt)
		assert.Equal(t, time.UTC, got.CreatedAt.Location())

		byUser, err := s.GetDoctorByUser(ctx, d.UserID)
		require.NoError(t, err)
		assert.Equal(t, d.ID, byUser.ID)

		_, err = s.GetDoctor(ctx, newID())
		assert.ErrorIs(t, err, profile.ErrDoctorNotFound)
		_, err = s.GetDoctorByUser(ctx, newID())
		assert.ErrorIs(t, err, profile.ErrDoctorNotFound)

		t.Run("license numbers are unique regardless of case", func(t *testing.T) {
			mkDoctor(t, s, "B", "B", func(x *profile.Doctor) { x.LicenseNumber = "abc-1" })
			err := s.CreateDoctor(ctx, profile.Doctor{ID: newID(), FirstName: "C", LastName: "C", Email: "c@x.org",
				LicenseNumber: "ABC-1", TimeZone: "UTC", AppointmentMinutes: 30, Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0},
				schedule.Availability{SlotMinutes: 30, Version: 1, UpdatedAt: t0})
			assert.ErrorIs(t, err, profile.ErrLicenseTaken)
		})
		t.Run("one profile per user", func(t *testing.T) {
			err := s.CreateDoctor(ctx, profile.Doctor{ID: newID(), UserID: d.UserID, FirstName: "C", LastName: "C", Email: "c@x.org",
				LicenseNumber: "OTHER-1", TimeZone: "UTC", AppointmentMinutes: 30, Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0},
				schedule.Availability{SlotMinutes: 30, Version: 1, UpdatedAt: t0})
			assert.ErrorIs(t, err, profile.ErrUserHasProfile)
			// Unlinked profiles do not collide with each other.
			mkDoctor(t, s, "U1", "Unlinked", func(x *profile.Doctor) { x.UserID = "" })
			u2 := mkDoctor(t, s, "U2", "Unlinked", func(x *profile.Doctor) { x.UserID = "" })
			got, err := s.GetDoctor(ctx, u2.ID)
			require.NoError(t, err)
			assert.Empty(t, got.UserID)
		})
		t.Run("unknown specialization", func(t *testing.T) {
			err := s.CreateDoctor(ctx, profile.Doctor{ID: newID(), FirstName: "C", LastName: "C", Email: "c@x.org",
				LicenseNumber: "SPEC-1", TimeZone: "UTC", AppointmentMinutes: 30, Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0,
				SpecializationIDs: []string{newID()}},
				schedule.Availability{SlotMinutes: 30, Version: 1, UpdatedAt: t0})
			var fe problem.FieldErrors
			assert.True(t, errors.As(err, &fe), "%v", err)
		})

		t.Run("update guarded by version", func(t *testing.T) {
			cur, err := s.GetDoctor(ctx, d.ID)
			require.NoError(t, err)
			cur.LastName = "Byron"
			cur.SpecializationIDs = []string{derm.ID}
			cur.Languages = []string{"de"}
			cur.UpdatedAt = t0.Add(time.Hour)
			upd, err := s.UpdateDoctor(ctx, cur, 1)
			require.NoError(t, err)
			assert.Equal(t, int64(2), upd.Version)
			assert.Equal(t, "Byron", upd.LastName)
			assert.Equal(t, []string{derm.ID}, upd.SpecializationIDs)
			assert.Equal(t, []string{"de"}, upd.Languages)
			assert.True(t, upd.UpdatedAt.Equal(t0.Add(time.Hour)))

			_, err = s.UpdateDoctor(ctx, cur, 1)
			assert.ErrorIs(t, err, profile.ErrStale)
			again, err := s.GetDoctor(ctx, d.ID)
			require.NoError(t, err)
			assert.Equal(t, int64(2), again.Version, "a stale write changes nothing")

			upd, err = s.UpdateDoctor(ctx, cur, 0)
			require.NoError(t, err, "0 accepts any version")
			assert.Equal(t, int64(3), upd.Version)

			missing := cur
			missing.ID = newID()
			_, err = s.UpdateDoctor(ctx, missing, 1)
			assert.ErrorIs(t, err, profile.ErrDoctorNotFound)
		})
		t.Run("update to a taken license", func(t *testing.T) {
			cur, err := s.GetDoctor(ctx, d.ID)
			require.NoError(t, err)
			cur.LicenseNumber = "ABC-1"
			_, err = s.UpdateDoctor(ctx, cur, cur.Version)
			assert.ErrorIs(t, err, profile.ErrLicenseTaken)
		})
	})
}

func TestSearchDoctors(t *testing.T) {
	each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		card := mkSpec(t, s, "Cardiology")
		neuro := mkSpec(t, s, "Neurology")
		names := [][2]string{
			{"Ada", "Lovelace"}, {"Alan", "Turing"}, {"Grace", "Hopper"}, {"Edsger", "Dijkstra"}, {"Barbara", "Liskov"},
			{"Donald", "Knuth"}, {"Ken", "Thompson"}, {"Dennis", "Ritchie"}, {"Tony", "Hoare"}, {"John", "Backus"},
			{"Frances", "Allen"}, {"Adele", "Goldberg"}, {"Radia", "Perlman"}, {"Leslie", "Lamport"}, {"Niklaus", "Wirth"},
			{"Ada", "Turing"}, {"Alan", "Kay"}, {"Fran", "100%_Sure"},
		}
		ids := map[string]string{}
		for i, n := range names {
			d := mkDoctor(t, s, n[0], n[1], func(d *profile.Doctor) {
				if i%2 == 0 {
					d.SpecializationIDs = []string{card.ID}
					d.Languages = []string{"en", "de"}
				} else {
					d.SpecializationIDs = []string{neuro.ID}
				}
			})
			ids[n[0]+" "+n[1]] = d.ID
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
			assert.Empty(t, search(service.Query{SpecializationID: newID()}))
		})
		t.Run("hyphenated and multi-word names", func(t *testing.T) {
			mkDoctor(t, s, "Mary Ann", "Smith-Jones")
			assert.Equal(t, []string{"Mary Ann Smith-Jones"}, search(service.Query{NamePrefixes: []string{"jon"}}))
			assert.Equal(t, []string{"Mary Ann Smith-Jones"}, search(service.Query{NamePrefixes: []string{"smith-j"}}))
			assert.Equal(t, []string{"Mary Ann Smith-Jones"}, search(service.Query{NamePrefixes: []string{"ann", "mar"}}))
		})
		t.Run("a renamed doctor moves in every order", func(t *testing.T) {
			cur, err := s.GetDoctor(ctx, ids["Grace Hopper"])
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
			monday := schedule.Date{Year: 2027, Month: time.March, Day: 1}
			put := func(name string, a schedule.Availability) {
				a.DoctorID = ids[name]
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
	})
}

func TestSpecializations(t *testing.T) {
	each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		card := mkSpec(t, s, "Cardiology")
		err := s.CreateSpecialization(ctx, profile.Specialization{ID: newID(), Name: "CARDIOLOGY", Version: 1, CreatedAt: t0, UpdatedAt: t0})
		assert.ErrorIs(t, err, profile.ErrSpecializationNameUsed, "names are unique regardless of case")
		mkSpec(t, s, "Cardiología") // accents make another name
		for _, n := range []string{"Neurology", "dermatology", "Allergy", "Oncology"} {
			mkSpec(t, s, n)
		}

		got, err := s.GetSpecialization(ctx, card.ID)
		require.NoError(t, err)
		assert.Equal(t, "Cardiology", got.Name)
		assert.Equal(t, "about Cardiology", got.Description)
		assert.Equal(t, int64(1), got.Version)
		_, err = s.GetSpecialization(ctx, newID())
		assert.ErrorIs(t, err, profile.ErrSpecializationNotFound)

		page1, err := s.ListSpecializations(ctx, "", 3)
		require.NoError(t, err)
		require.Len(t, page1, 3)
		assert.Equal(t, []string{"Allergy", "Cardiology", "Cardiología"}, []string{page1[0].Name, page1[1].Name, page1[2].Name})
		page2, err := s.ListSpecializations(ctx, profile.NameKey(page1[2].Name), 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"dermatology", "Neurology", "Oncology"}, []string{page2[0].Name, page2[1].Name, page2[2].Name})

		t.Run("rename", func(t *testing.T) {
			upd, err := s.UpdateSpecialization(ctx, profile.Specialization{ID: card.ID, Name: "Cardiac Surgery", UpdatedAt: t0}, 1)
			require.NoError(t, err)
			assert.Equal(t, "Cardiac Surgery", upd.Name)
			assert.Equal(t, int64(2), upd.Version)
			_, err = s.UpdateSpecialization(ctx, profile.Specialization{ID: card.ID, Name: "X", UpdatedAt: t0}, 1)
			assert.ErrorIs(t, err, profile.ErrStale)
			_, err = s.UpdateSpecialization(ctx, profile.Specialization{ID: card.ID, Name: "neurology", UpdatedAt: t0}, 0)
			assert.ErrorIs(t, err, profile.ErrSpecializationNameUsed)
			_, err = s.UpdateSpecialization(ctx, profile.Specialization{ID: newID(), Name: "Y", UpdatedAt: t0}, 0)
			assert.ErrorIs(t, err, profile.ErrSpecializationNotFound)
			// Changing only the case of one's own name is fine.
			upd, err = s.UpdateSpecialization(ctx, profile.Specialization{ID: card.ID, Name: "CARDIAC SURGERY", UpdatedAt: t0}, 0)
			require.NoError(t, err)
			assert.Equal(t, "CARDIAC SURGERY", upd.Name)
		})
		t.Run("delete", func(t *testing.T) {
			used := mkSpec(t, s, "Used")
			mkDoctor(t, s, "A", "B", func(d *profile.Doctor) { d.SpecializationIDs = []string{used.ID} })
			assert.ErrorIs(t, s.DeleteSpecialization(ctx, used.ID), profile.ErrSpecializationInUse)
			_, err := s.GetSpecialization(ctx, used.ID)
			assert.NoError(t, err, "still there")
			assert.NoError(t, s.DeleteSpecialization(ctx, card.ID))
			assert.ErrorIs(t, s.DeleteSpecialization(ctx, card.ID), profile.ErrSpecializationNotFound)
		})
		t.Run("missing", func(t *testing.T) {
			ghost := newID()
			page, err := s.ListSpecializations(ctx, "", 100)
			require.NoError(t, err)
			missing, err := s.MissingSpecializations(ctx, []string{page[0].ID, ghost})
			require.NoError(t, err)
			assert.Equal(t, []string{ghost}, missing)
			missing, err = s.MissingSpecializations(ctx, nil)
			require.NoError(t, err)
			assert.Empty(t, missing)
		})
	})
}

func TestAvailability(t *testing.T) {
	each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		d := mkDoctor(t, s, "Ada", "Lovelace", func(d *profile.Doctor) { d.AppointmentMinutes = 20 })

		a, err := s.GetAvailability(ctx, d.ID)
		require.NoError(t, err)
		assert.Equal(t, 20, a.SlotMinutes, "a new doctor's slots last their appointment length")
		assert.Equal(t, int64(1), a.Version)
		assert.Empty(t, a.Exceptions)

		_, err = s.GetAvailability(ctx, newID())
		assert.ErrorIs(t, err, profile.ErrDoctorNotFound)

		next := schedule.Availability{DoctorID: d.ID, SlotMinutes: 15, BufferMinutes: 5, UpdatedAt: t0.Add(time.Minute)}
		next.Weekly[time.Monday] = []schedule.Interval{{Start: 540, End: 720}, {Start: 780, End: 1020}}
		next.Weekly[time.Sunday] = []schedule.Interval{{Start: 1320, End: 1440}}
		next.Exceptions = []schedule.Exception{
			{Date: schedule.Date{Year: 2027, Month: 12, Day: 24}},
			{Date: schedule.Date{Year: 2027, Month: 12, Day: 31}, Intervals: []schedule.Interval{{Start: 540, End: 600}, {Start: 660, End: 720}}},
		}
		stored, err := s.ReplaceAvailability(ctx, next, 1)
		require.NoError(t, err)
		assert.Equal(t, int64(2), stored.Version)
		next.Version = 2
		assert.Equal(t, next, stored)

		got, err := s.GetAvailability(ctx, d.ID)
		require.NoError(t, err)
		assert.Equal(t, next, got)

		_, err = s.ReplaceAvailability(ctx, next, 1)
		assert.ErrorIs(t, err, profile.ErrStale)
		missing := next
		missing.DoctorID = newID()
		_, err = s.ReplaceAvailability(ctx, missing, 0)
		assert.ErrorIs(t, err, profile.ErrDoctorNotFound)

		// Replacing clears what was there.
		empty := schedule.Availability{DoctorID: d.ID, SlotMinutes: 30, UpdatedAt: t0}
		stored, err = s.ReplaceAvailability(ctx, empty, 0)
		require.NoError(t, err)
		assert.Equal(t, int64(3), stored.Version)
		assert.Empty(t, stored.Exceptions)
		assert.Empty(t, stored.Weekly[time.Monday])
	})
}

func TestConcurrentAvailabilityUpdates(t *testing.T) {
	each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		d := mkDoctor(t, s, "Ada", "Lovelace")
		const writers = 6
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := schedule.Availability{DoctorID: d.ID, SlotMinutes: 10 + i, UpdatedAt: t0}
				a.Weekly[time.Monday] = []schedule.Interval{{Start: 540 + i, End: 600}}
				_, errs[i] = s.ReplaceAvailability(ctx, a, 1)
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			assert.ErrorIs(t, err, profile.ErrStale)
		}
		assert.Equal(t, 1, wins, "exactly one writer wins: %v", fmt.Sprint(errs))
		got, err := s.GetAvailability(ctx, d.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(2), got.Version)
		winner := got.SlotMinutes - 10
		assert.Equal(t, []schedule.Interval{{Start: 540 + winner, End: 600}}, got.Weekly[time.Monday], "the winner's hours, whole")
	})
}
