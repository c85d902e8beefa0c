package service

import (
	"context"
	"time"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/page"
)

// InstrumentingMiddleware counts calls and measures their latency per
// method and outcome; only faults count as failures (metrics.Method.Observe).
func InstrumentingMiddleware(m metrics.Method) func(Service) Service {
	return func(next Service) Service { return &instrumentingService{next: next, m: m} }
}

type instrumentingService struct {
	next Service
	m    metrics.Method
}

func (s *instrumentingService) CreateDoctor(ctx context.Context, actor authn.Principal, in DoctorInput) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { s.m.Observe("CreateDoctor", begin, err) }(time.Now())
	return s.next.CreateDoctor(ctx, actor, in)
}

func (s *instrumentingService) MyDoctor(ctx context.Context, actor authn.Principal) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { s.m.Observe("MyDoctor", begin, err) }(time.Now())
	return s.next.MyDoctor(ctx, actor)
}

func (s *instrumentingService) GetDoctor(ctx context.Context, actor authn.Principal, id string) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { s.m.Observe("GetDoctor", begin, err) }(time.Now())
	return s.next.GetDoctor(ctx, actor, id)
}

func (s *instrumentingService) UpdateDoctor(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in DoctorInput) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { s.m.Observe("UpdateDoctor", begin, err) }(time.Now())
	return s.next.UpdateDoctor(ctx, actor, id, ifMatch, in)
}

func (s *instrumentingService) DeactivateDoctor(ctx context.Context, actor authn.Principal, id string) (err error) {
	defer func(begin time.Time) { s.m.Observe("DeactivateDoctor", begin, err) }(time.Now())
	return s.next.DeactivateDoctor(ctx, actor, id)
}

func (s *instrumentingService) SearchDoctors(ctx context.Context, actor authn.Principal, in SearchInput) (_ page.Page[profile.Doctor], err error) {
	defer func(begin time.Time) { s.m.Observe("SearchDoctors", begin, err) }(time.Now())
	return s.next.SearchDoctors(ctx, actor, in)
}

func (s *instrumentingService) ListSpecializations(ctx context.Context, actor authn.Principal, limit int, cursor string) (_ page.Page[profile.Specialization], err error) {
	defer func(begin time.Time) { s.m.Observe("ListSpecializations", begin, err) }(time.Now())
	return s.next.ListSpecializations(ctx, actor, limit, cursor)
}

func (s *instrumentingService) GetSpecialization(ctx context.Context, actor authn.Principal, id string) (_ profile.Specialization, err error) {
	defer func(begin time.Time) { s.m.Observe("GetSpecialization", begin, err) }(time.Now())
	return s.next.GetSpecialization(ctx, actor, id)
}

func (s *instrumentingService) CreateSpecialization(ctx context.Context, actor authn.Principal, in SpecializationInput) (_ profile.Specialization, err error) {
	defer func(begin time.Time) { s.m.Observe("CreateSpecialization", begin, err) }(time.Now())
	return s.next.CreateSpecialization(ctx, actor, in)
}

func (s *instrumentingService) UpdateSpecialization(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in SpecializationInput) (_ profile.Specialization, err error) {
	defer func(begin time.Time) { s.m.Observe("UpdateSpecialization", begin, err) }(time.Now())
	return s.next.UpdateSpecialization(ctx, actor, id, ifMatch, in)
}

func (s *instrumentingService) DeleteSpecialization(ctx context.Context, actor authn.Principal, id string) (err error) {
	defer func(begin time.Time) { s.m.Observe("DeleteSpecialization", begin, err) }(time.Now())
	return s.next.DeleteSpecialization(ctx, actor, id)
}

func (s *instrumentingService) GetAvailability(ctx context.Context, actor authn.Principal, doctorID string) (_ AvailabilityView, err error) {
	defer func(begin time.Time) { s.m.Observe("GetAvailability", begin, err) }(time.Now())
	return s.next.GetAvailability(ctx, actor, doctorID)
}

func (s *instrumentingService) ReplaceAvailability(ctx context.Context, actor authn.Principal, doctorID string, ifMatch int64, in AvailabilityInput) (_ AvailabilityView, err error) {
	defer func(begin time.Time) { s.m.Observe("ReplaceAvailability", begin, err) }(time.Now())
	return s.next.ReplaceAvailability(ctx, actor, doctorID, ifMatch, in)
}

func (s *instrumentingService) Slots(ctx context.Context, actor authn.Principal, doctorID, from, to string) (_ SlotList, err error) {
	defer func(begin time.Time) { s.m.Observe("Slots", begin, err) }(time.Now())
	return s.next.Slots(ctx, actor, doctorID, from, to)
}
