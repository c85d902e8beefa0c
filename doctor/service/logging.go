package service

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/logging"
)

// LoggingMiddleware logs each call with its duration and outcome. It logs
// resource IDs only: never names, contact details or free text.
func LoggingMiddleware(logger log.Logger) func(Service) Service {
	return func(next Service) Service { return &loggingService{next: next, logger: logger} }
}

type loggingService struct {
	next   Service
	logger log.Logger
}

func (s *loggingService) log(ctx context.Context, method string, begin time.Time, err error, kv ...any) {
	l := logging.FromContext(ctx, s.logger)
	lv := level.Debug(l)
	if err != nil {
		lv = level.Info(l)
	}
	_ = lv.Log(append([]any{"method", method, "took", time.Since(begin), "err", errString(err)}, kv...)...)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *loggingService) CreateDoctor(ctx context.Context, in DoctorInput) (d profile.Doctor, err error) {
	defer func(begin time.Time) { s.log(ctx, "CreateDoctor", begin, err, "doctorId", d.ID) }(time.Now())
	return s.next.CreateDoctor(ctx, in)
}

func (s *loggingService) MyDoctor(ctx context.Context) (d profile.Doctor, err error) {
	defer func(begin time.Time) { s.log(ctx, "MyDoctor", begin, err, "doctorId", d.ID) }(time.Now())
	return s.next.MyDoctor(ctx)
}

func (s *loggingService) GetDoctor(ctx context.Context, id string) (d profile.Doctor, err error) {
	defer func(begin time.Time) { s.log(ctx, "GetDoctor", begin, err, "doctorId", id) }(time.Now())
	return s.next.GetDoctor(ctx, id)
}

func (s *loggingService) UpdateDoctor(ctx context.Context, id string, ifMatch int64, in DoctorInput) (d profile.Doctor, err error) {
	defer func(begin time.Time) {
		s.log(ctx, "UpdateDoctor", begin, err, "doctorId", id, "ifMatch", ifMatch, "version", d.Version)
	}(time.Now())
	return s.next.UpdateDoctor(ctx, id, ifMatch, in)
}

func (s *loggingService) DeactivateDoctor(ctx context.Context, id string) (err error) {
	defer func(begin time.Time) { s.log(ctx, "DeactivateDoctor", begin, err, "doctorId", id) }(time.Now())
	return s.next.DeactivateDoctor(ctx, id)
}

func (s *loggingService) SearchDoctors(ctx context.Context, in SearchInput) (p DoctorPage, err error) {
	defer func(begin time.Time) { s.log(ctx, "SearchDoctors", begin, err, "results", len(p.Items)) }(time.Now())
	return s.next.SearchDoctors(ctx, in)
}

func (s *loggingService) ListSpecializations(ctx context.Context, limit, cursor string) (p SpecializationPage, err error) {
	defer func(begin time.Time) { s.log(ctx, "ListSpecializations", begin, err, "results", len(p.Items)) }(time.Now())
	return s.next.ListSpecializations(ctx, limit, cursor)
}

func (s *loggingService) GetSpecialization(ctx context.Context, id string) (sp profile.Specialization, err error) {
	defer func(begin time.Time) { s.log(ctx, "GetSpecialization", begin, err, "specializationId", id) }(time.Now())
	return s.next.GetSpecialization(ctx, id)
}

func (s *loggingService) CreateSpecialization(ctx context.Context, in SpecializationInput) (sp profile.Specialization, err error) {
	defer func(begin time.Time) { s.log(ctx, "CreateSpecialization", begin, err, "specializationId", sp.ID) }(time.Now())
	return s.next.CreateSpecialization(ctx, in)
}

func (s *loggingService) UpdateSpecialization(ctx context.Context, id string, ifMatch int64, in SpecializationInput) (sp profile.Specialization, err error) {
	defer func(begin time.Time) {
		s.log(ctx, "UpdateSpecialization", begin, err, "specializationId", id, "ifMatch", ifMatch)
	}(time.Now())
	return s.next.UpdateSpecialization(ctx, id, ifMatch, in)
}

func (s *loggingService) DeleteSpecialization(ctx context.Context, id string) (err error) {
	defer func(begin time.Time) { s.log(ctx, "DeleteSpecialization", begin, err, "specializationId", id) }(time.Now())
	return s.next.DeleteSpecialization(ctx, id)
}

func (s *loggingService) GetAvailability(ctx context.Context, doctorID string) (v AvailabilityView, err error) {
	defer func(begin time.Time) { s.log(ctx, "GetAvailability", begin, err, "doctorId", doctorID) }(time.Now())
	return s.next.GetAvailability(ctx, doctorID)
}

func (s *loggingService) ReplaceAvailability(ctx context.Context, doctorID string, ifMatch int64, in schedule.Input) (v AvailabilityView, err error) {
	defer func(begin time.Time) {
		s.log(ctx, "ReplaceAvailability", begin, err, "doctorId", doctorID, "ifMatch", ifMatch,
			"version", v.Availability.Version, "availability", v.Availability.Describe())
	}(time.Now())
	return s.next.ReplaceAvailability(ctx, doctorID, ifMatch, in)
}

func (s *loggingService) Slots(ctx context.Context, doctorID, from, to string) (l SlotList, err error) {
	defer func(begin time.Time) {
		s.log(ctx, "Slots", begin, err, "doctorId", doctorID, "from", from, "to", to, "slots", len(l.Slots))
	}(time.Now())
	return s.next.Slots(ctx, doctorID, from, to)
}
