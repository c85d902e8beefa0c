package service

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/page"
)

// LoggingMiddleware logs each call with its duration and outcome by the one
// rule of logging.Call: never arguments or results, which hold personal data.
func LoggingMiddleware(logger log.Logger) func(Service) Service {
	return func(next Service) Service { return &loggingService{next: next, logger: logger} }
}

type loggingService struct {
	next   Service
	logger log.Logger
}

func (s *loggingService) CreateDoctor(ctx context.Context, actor authn.Principal, in DoctorInput) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "CreateDoctor", begin, err) }(time.Now())
	return s.next.CreateDoctor(ctx, actor, in)
}

func (s *loggingService) MyDoctor(ctx context.Context, actor authn.Principal) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "MyDoctor", begin, err) }(time.Now())
	return s.next.MyDoctor(ctx, actor)
}

func (s *loggingService) GetDoctor(ctx context.Context, actor authn.Principal, id string) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "GetDoctor", begin, err) }(time.Now())
	return s.next.GetDoctor(ctx, actor, id)
}

func (s *loggingService) UpdateDoctor(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in DoctorInput) (_ profile.Doctor, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "UpdateDoctor", begin, err) }(time.Now())
	return s.next.UpdateDoctor(ctx, actor, id, ifMatch, in)
}

func (s *loggingService) DeactivateDoctor(ctx context.Context, actor authn.Principal, id string) (err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "DeactivateDoctor", begin, err) }(time.Now())
	return s.next.DeactivateDoctor(ctx, actor, id)
}

func (s *loggingService) SearchDoctors(ctx context.Context, actor authn.Principal, in SearchInput) (_ page.Page[profile.Doctor], err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "SearchDoctors", begin, err) }(time.Now())
	return s.next.SearchDoctors(ctx, actor, in)
}

func (s *loggingService) ListSpecializations(ctx context.Context, actor authn.Principal, limit int, cursor string) (_ page.Page[profile.Specialization], err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "ListSpecializations", begin, err) }(time.Now())
	return s.next.ListSpecializations(ctx, actor, limit, cursor)
}

func (s *loggingService) GetSpecialization(ctx context.Context, actor authn.Principal, id string) (_ profile.Specialization, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "GetSpecialization", begin, err) }(time.Now())
	return s.next.GetSpecialization(ctx, actor, id)
}

func (s *loggingService) CreateSpecialization(ctx context.Context, actor authn.Principal, in SpecializationInput) (_ profile.Specialization, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "CreateSpecialization", begin, err) }(time.Now())
	return s.next.CreateSpecialization(ctx, actor, in)
}

func (s *loggingService) UpdateSpecialization(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in SpecializationInput) (_ profile.Specialization, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "UpdateSpecialization", begin, err) }(time.Now())
	return s.next.UpdateSpecialization(ctx, actor, id, ifMatch, in)
}

func (s *loggingService) DeleteSpecialization(ctx context.Context, actor authn.Principal, id string) (err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "DeleteSpecialization", begin, err) }(time.Now())
	return s.next.DeleteSpecialization(ctx, actor, id)
}

func (s *loggingService) GetAvailability(ctx context.Context, actor authn.Principal, doctorID string) (_ AvailabilityView, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "GetAvailability", begin, err) }(time.Now())
	return s.next.GetAvailability(ctx, actor, doctorID)
}

func (s *loggingService) ReplaceAvailability(ctx context.Context, actor authn.Principal, doctorID string, ifMatch int64, in AvailabilityInput) (_ AvailabilityView, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "ReplaceAvailability", begin, err) }(time.Now())
	return s.next.ReplaceAvailability(ctx, actor, doctorID, ifMatch, in)
}

func (s *loggingService) Slots(ctx context.Context, actor authn.Principal, doctorID, from, to string) (_ SlotList, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Slots", begin, err) }(time.Now())
	return s.next.Slots(ctx, actor, doctorID, from, to)
}
