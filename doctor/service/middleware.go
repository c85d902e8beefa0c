package service

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/page"
)

// Middleware logs each call by the one rule of logging.Call and counts it
// with its latency by metrics.Method.Observe, so that only faults are
// errors and failures; it never logs arguments or results, which hold
// personal data.
func Middleware(logger log.Logger, m metrics.Method) func(Service) Service {
	o := logging.Observer{Logger: logger, Metrics: m}
	return func(next Service) Service { return &observed{next: next, o: o} }
}

type observed struct {
	next Service
	o    logging.Observer
}

func (s *observed) CreateDoctor(ctx context.Context, actor authn.Principal, in DoctorInput) (_ profile.Doctor, err error) {
	defer s.o.Done(ctx, "CreateDoctor", time.Now(), &err)
	return s.next.CreateDoctor(ctx, actor, in)
}

func (s *observed) MyDoctor(ctx context.Context, actor authn.Principal) (_ profile.Doctor, err error) {
	defer s.o.Done(ctx, "MyDoctor", time.Now(), &err)
	return s.next.MyDoctor(ctx, actor)
}

func (s *observed) GetDoctor(ctx context.Context, actor authn.Principal, id string) (_ profile.Doctor, err error) {
	defer s.o.Done(ctx, "GetDoctor", time.Now(), &err)
	return s.next.GetDoctor(ctx, actor, id)
}

func (s *observed) UpdateDoctor(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in DoctorInput) (_ profile.Doctor, err error) {
	defer s.o.Done(ctx, "UpdateDoctor", time.Now(), &err)
	return s.next.UpdateDoctor(ctx, actor, id, ifMatch, in)
}

func (s *observed) DeactivateDoctor(ctx context.Context, actor authn.Principal, id string, strandBookings bool) (err error) {
	defer s.o.Done(ctx, "DeactivateDoctor", time.Now(), &err)
	return s.next.DeactivateDoctor(ctx, actor, id, strandBookings)
}

func (s *observed) SearchDoctors(ctx context.Context, actor authn.Principal, in SearchInput) (_ page.Page[profile.Doctor], err error) {
	defer s.o.Done(ctx, "SearchDoctors", time.Now(), &err)
	return s.next.SearchDoctors(ctx, actor, in)
}

func (s *observed) ListSpecializations(ctx context.Context, actor authn.Principal, limit int, cursor string) (_ page.Page[profile.Specialization], err error) {
	defer s.o.Done(ctx, "ListSpecializations", time.Now(), &err)
	return s.next.ListSpecializations(ctx, actor, limit, cursor)
}

func (s *observed) GetSpecialization(ctx context.Context, actor authn.Principal, id string) (_ profile.Specialization, err error) {
	defer s.o.Done(ctx, "GetSpecialization", time.Now(), &err)
	return s.next.GetSpecialization(ctx, actor, id)
}

func (s *observed) CreateSpecialization(ctx context.Context, actor authn.Principal, in SpecializationInput) (_ profile.Specialization, err error) {
	defer s.o.Done(ctx, "CreateSpecialization", time.Now(), &err)
	return s.next.CreateSpecialization(ctx, actor, in)
}

func (s *observed) UpdateSpecialization(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in SpecializationInput) (_ profile.Specialization, err error) {
	defer s.o.Done(ctx, "UpdateSpecialization", time.Now(), &err)
	return s.next.UpdateSpecialization(ctx, actor, id, ifMatch, in)
}

func (s *observed) DeleteSpecialization(ctx context.Context, actor authn.Principal, id string) (err error) {
	defer s.o.Done(ctx, "DeleteSpecialization", time.Now(), &err)
	return s.next.DeleteSpecialization(ctx, actor, id)
}

func (s *observed) GetAvailability(ctx context.Context, actor authn.Principal, doctorID string) (_ AvailabilityView, err error) {
	defer s.o.Done(ctx, "GetAvailability", time.Now(), &err)
	return s.next.GetAvailability(ctx, actor, doctorID)
}

func (s *observed) ReplaceAvailability(ctx context.Context, actor authn.Principal, doctorID string, ifMatch int64, in AvailabilityInput) (_ AvailabilityView, err error) {
	defer s.o.Done(ctx, "ReplaceAvailability", time.Now(), &err)
	return s.next.ReplaceAvailability(ctx, actor, doctorID, ifMatch, in)
}

func (s *observed) Slots(ctx context.Context, actor authn.Principal, doctorID, from, to string) (_ SlotList, err error) {
	defer s.o.Done(ctx, "Slots", time.Now(), &err)
	return s.next.Slots(ctx, actor, doctorID, from, to)
}

func (s *observed) CheckSlot(ctx context.Context, actor authn.Principal, doctorID, start, end string) (_ SlotCheck, err error) {
	defer s.o.Done(ctx, "CheckSlot", time.Now(), &err)
	return s.next.CheckSlot(ctx, actor, doctorID, start, end)
}
