package repotest

import (
	"context"
	"fmt"
	"sync"
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

func testAvailability(t *testing.T, s service.Repository) {
	ctx := context.Background()
	d := mkDoctor(t, s, "Ada", "Lovelace", func(d *profile.Doctor) { d.AppointmentMinutes = 20 })

	a, err := s.GetAvailability(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, 20, a.SlotMinutes, "a new doctor's slots last their appointment length")
	assert.Equal(t, int64(1), a.Version)
	assert.Empty(t, a.Exceptions)

	_, err = s.GetAvailability(ctx, ids.New())
	assert.ErrorIs(t, err, profile.ErrDoctorNotFound)

	next := schedule.Availability{DoctorID: d.ID, SlotMinutes: 15, BufferMinutes: 5, UpdatedAt: t0.Add(time.Minute)}
	next.Weekly[time.Monday] = []schedule.Interval{{Start: 540, End: 720}, {Start: 780, End: 1020}}
	next.Weekly[time.Sunday] = []schedule.Interval{{Start: 1320, End: 1440}}
	next.Exceptions = []schedule.Exception{
		{Date: civil.New(2027, 12, 24)},
		{Date: civil.New(2027, 12, 31), Intervals: []schedule.Interval{{Start: 540, End: 600}, {Start: 660, End: 720}}},
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
	missing.DoctorID = ids.New()
	_, err = s.ReplaceAvailability(ctx, missing, 0)
	assert.ErrorIs(t, err, profile.ErrDoctorNotFound)

	// Replacing clears what was there.
	empty := schedule.Availability{DoctorID: d.ID, SlotMinutes: 30, UpdatedAt: t0}
	stored, err = s.ReplaceAvailability(ctx, empty, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(3), stored.Version)
	assert.Empty(t, stored.Exceptions)
	assert.Empty(t, stored.Weekly[time.Monday])
}

func testConcurrentAvailabilityUpdates(t *testing.T, s service.Repository) {
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
}

// testConcurrentDoctorUpdates sends writers that all read version 1 at
// once: exactly one profile update lands, whole (its languages and
// specializations with it), and the others are ErrStale.
func testConcurrentDoctorUpdates(t *testing.T, s service.Repository) {
	ctx := context.Background()
	d := mkDoctor(t, s, "Ada", "Lovelace")
	specs := []profile.Specialization{mkSpec(t, s, "Cardiology"), mkSpec(t, s, "Dermatology"), mkSpec(t, s, "Neurology")}
	const writers = 6
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := d
			w.Bio = fmt.Sprint("writer ", i)
			w.Languages = []string{[]string{"de", "fr", "es"}[i%3]}
			w.SpecializationIDs = []string{specs[i%3].ID}
			w.UpdatedAt = t0.Add(time.Duration(i+1) * time.Minute)
			<-start
			_, errs[i] = s.UpdateDoctor(ctx, w, 1)
		}()
	}
	close(start)
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
	got, err := s.GetDoctor(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)
	var winner int
	_, err = fmt.Sscanf(got.Bio, "writer %d", &winner)
	require.NoError(t, err)
	assert.Equal(t, []string{[]string{"de", "fr", "es"}[winner%3]}, got.Languages, "the winner's languages, whole")
	assert.Equal(t, []string{specs[winner%3].ID}, got.SpecializationIDs, "the winner's specializations, whole")
}
