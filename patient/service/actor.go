package service

import (
	"github.com/google/uuid"

	"github.com/medisync/medisync/patient/patient"
)

// Roles as they appear in tokens and audit events.
const (
	RoleAdmin   = "ADMIN"
	RoleDoctor  = "DOCTOR"
	RolePatient = "PATIENT"
)

// Actor is the authenticated caller a use case runs for. A caller may hold
// several roles; the rights are the union of theirs.
type Actor struct {
	UserID  string
	Admin   bool
	Doctor  bool
	Patient bool
}

// NewActor builds an actor from a user id and role names; unknown roles are
// ignored.
func NewActor(userID string, roles []string) Actor {
	a := Actor{UserID: userID}
	for _, r := range roles {
		switch r {
		case RoleAdmin:
			a.Admin = true
		case RoleDoctor:
			a.Doctor = true
		case RolePatient:
			a.Patient = true
		}
	}
	return a
}

// Staff reports whether the actor may see every patient's record.
func (a Actor) Staff() bool { return a.Admin || a.Doctor }

// Owns reports whether p is the actor's own record.
func (a Actor) Owns(p patient.Patient) bool {
	return a.Patient && a.UserID != "" && p.UserID == a.UserID
}

// Role is the actor's most powerful role, as written in audit events; ""
// when the token carries none that this service knows.
func (a Actor) Role() string {
	switch {
	case a.Admin:
		return RoleAdmin
	case a.Doctor:
		return RoleDoctor
	case a.Patient:
		return RolePatient
	}
	return ""
}

// ValidID reports whether s is a UUID in its canonical 36-character form.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// NewID returns a fresh UUID v7, ordered by creation time.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }
