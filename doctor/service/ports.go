// Package service holds the doctor service's use cases behind the Service
// interface, the ports they need (repositories, taken slots), and the
// logging and instrumenting middlewares that decorate it.
package service

import (
	"context"
	"time"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/civil"
)

// DoctorRepository stores doctors' profiles.
type DoctorRepository interface {
	// CreateDoctor stores a new doctor with its first availability, in one
	// transaction. It fails with ErrLicenseTaken or ErrUserHasProfile.
	CreateDoctor(ctx context.Context, d profile.Doctor, a schedule.Availability) error
	// GetDoctor fails with ErrDoctorNotFound.
	GetDoctor(ctx context.Context, id string) (profile.Doctor, error)
	// GetDoctorByUser finds the profile linked to an auth user; ErrDoctorNotFound.
	GetDoctorByUser(ctx context.Context, userID string) (profile.Doctor, error)
	// UpdateDoctor replaces the doctor's fields when its version is still
	// expectedVersion (any version when 0), bumps the version and returns
	// the stored doctor. ErrStale, ErrDoctorNotFound, ErrLicenseTaken,
	// ErrUserHasProfile.
	UpdateDoctor(ctx context.Context, d profile.Doctor, expectedVersion int64) (profile.Doctor, error)
	// SearchDoctors returns up to q.Limit active doctors matching q, in
	// name order after q.After.
	SearchDoctors(ctx context.Context, q Query) ([]profile.Doctor, error)
}

// Query selects doctors. Empty fields do not filter.
type Query struct {
	SpecializationID string
	// NamePrefixes are lower-case words, each beginning the first or last name.
	NamePrefixes []string
	Language     string
	// AvailableOn keeps doctors with working hours on that local date.
	AvailableOn *civil.Date
	// After is the keyset position to continue from.
	After *Cursor
	Limit int
}

// Cursor is a position in the name order of doctors.
type Cursor struct {
	LastName  string `json:"l"`
	FirstName string `json:"f"`
	ID        string `json:"i"`
}

// SpecializationRepository stores the catalog of specializations.
type SpecializationRepository interface {
	// CreateSpecialization fails with ErrSpecializationNameUsed.
	CreateSpecialization(ctx context.Context, s profile.Specialization) error
	GetSpecialization(ctx context.Context, id string) (profile.Specialization, error)
	// ListSpecializations returns up to limit entries in name order whose
	// name key sorts after afterKey.
	ListSpecializations(ctx context.Context, afterKey string, limit int) ([]profile.Specialization, error)
	// UpdateSpecialization renames when the version is still expectedVersion
	// (any when 0): ErrStale, ErrSpecializationNotFound, ErrSpecializationNameUsed.
	UpdateSpecialization(ctx context.Context, s profile.Specialization, expectedVersion int64) (profile.Specialization, error)
	// DeleteSpecialization fails with ErrSpecializationInUse while a doctor
	// has it, ErrSpecializationNotFound when absent.
	DeleteSpecialization(ctx context.Context, id string) error
	// MissingSpecializations returns those of ids that do not exist.
	MissingSpecializations(ctx context.Context, ids []string) ([]string, error)
}

// AvailabilityRepository stores doctors' availabilities.
type AvailabilityRepository interface {
	// GetAvailability fails with ErrDoctorNotFound.
	GetAvailability(ctx context.Context, doctorID string) (schedule.Availability, error)
	// ReplaceAvailability stores a in one transaction when the stored version
	// is still expectedVersion (any when 0), bumps the version and returns
	// what is stored. ErrStale, ErrDoctorNotFound.
	ReplaceAvailability(ctx context.Context, a schedule.Availability, expectedVersion int64) (schedule.Availability, error)
}

// Repository is everything the service stores.
type Repository interface {
	DoctorRepository
	SpecializationRepository
	AvailabilityRepository
}

// TakenSlots tells which times of a doctor are already booked, so that
// they are not offered. The appointment side of the system implements it.
type TakenSlots interface {
	// Taken returns the booked ranges of the doctor that overlap [from, to),
	// in any order. An error means the bookings cannot be known now.
	Taken(ctx context.Context, doctorID string, from, to time.Time) ([]schedule.Range, error)
}
