package service

import (
	"context"
	"time"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/metrics"
)

// InstrumentingMiddleware counts calls and measures their latency per
// method and outcome.
func InstrumentingMiddleware(m metrics.Method) func(Service) Service {
	return func(next Service) Service { return &instrumentingService{next: next, m: m} }
}

type instrumentingService struct {
	next Service
	m    metrics.Method
}

func (s *instrumentingService) observe(method string, begin time.Time, err error) {
	s.m.Observe(method, begin, err)
}

func (s *instrumentingService) CreateDoctor(ctx context.Context, in DoctorInput) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { s.observe("CreateDoctor", begin, err) }(time.Now())
	return s.next.CreateDoctor(ctx, in)
}

func (s *instrumentingService) MyDoctor(ctx context.Context) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { s.observe("MyDoctor", begin, err) }(time.Now())
	return s.next.MyDoctor(ctx)
}

func (s *instrumentingService) GetDoctor(ctx context.Context, id string) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { s.observe("GetDoctor", begin, err) }(time.Now())
	return s.next.GetDoctor(ctx, id)
}

func (s *instrumentingService) UpdateDoctor(ctx context.Context, id string, ifMatch int64, in DoctorInput) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { s.observe("UpdateDoctor", begin, err) }(time.Now())
	return s.next.UpdateDoctor(ctx, id, ifMatch, in)
}

func (s *instrumentingService) DeactivateDoctor(ctx context.Context, id string) (err error) {
	defer func(begin time.Time) { s.observe("DeactivateDoctor", begin, err) }(time.Now())
	return s.next.DeactivateDoctor(ctx, id)
}

func (s *instrumentingService) SearchDoctors(ctx context.Context, in SearchInput) (_ DoctorPage, err error) {
	defer func(begin time.Time) { s.observe("SearchDoctors", begin, err) }(time.Now())
	return s.next.SearchDoctors(ctx, in)
}

func (s *instrumentingService) ListSpecializations(ctx context.Context, limit, cursor string) (_ SpecializationPage, err error) {
	defer func(begin time.Time) { s.observe("ListSpecializations", begin, err) }(time.Now())
	return s.next.ListSpecializations(ctx, limit, cursor)
}

func (s *instrumentingService) GetSpecialization(ctx context.Context, id string) (_ profile.Specialization, err error) {
	defer func(begin time.Time) { s.observe("GetSpecialization", begin, err) }(time.Now())
	return s.next.GetSpecialization(ctx, id)
}

func (s *instrumentingService) CreateSpecialization(ctx context.Context, in SpecializationInput) (_ profile.Specialization, err error) {
	defer func(begin time.Time) { s.observe("CreateSpecialization", begin, err) }(time.Now())
	return s.next.CreateSpecialization(ctx, in)
}

func (s *instrumentingService) UpdateSpecialization(ctx context.Context, id string, ifMatch int64, in SpecializationInput) (_ profile.Specialization, err error) {
	defer func(begin time.Time) { s.observe("UpdateSpecialization", begin, err) }(time.Now())
	return s.next.UpdateSpecialization(ctx, id, ifMatch, in)
}

func (s *instrumentingService) DeleteSpecialization(ctx context.Context, id string) (err error) {
	defer func(begin time.Time) { s.observe("DeleteSpecialization", begin, err) }(time.Now())
	return s.next.DeleteSpecialization(ctx, id)
}

func (s *instrumentingService) GetAvailability(ctx context.Context, doctorID string) (_ AvailabilityView, err error) {
	defer func(begin time.Time) { s.observe("GetAvailability", begin, err) }(time.Now())
	return s.next.GetAvailability(ctx, doctorID)
}

func (s *instrumentingService) ReplaceAvailability(ctx context.Context, doctorID string, ifMatch int64, in schedule.Input) (_ AvailabilityView, err error) {
	defer func(begin time.Time) { s.observe("ReplaceAvailability", begin, err) }(time.Now())
	return s.next.ReplaceAvailability(ctx, doctorID, ifMatch, in)
}

func (s *instrumentingService) Slots(ctx context.Context, doctorID, from, to string) (_ SlotList, err error) {
	defer func(begin time.Time) { s.observe("Slots", begin, err) }(time.Now())
	return s.next.Slots(ctx, doctorID, from, to)
}
