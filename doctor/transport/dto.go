package transport

import (
	"encoding/json"
	"time"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
)

// specializationRef is a specialization as a doctor shows it.
type specializationRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type doctorJSON struct {
	ID                 string              `json:"id"`
	UserID             *string             `json:"userId"`
	FirstName          string              `json:"firstName"`
	LastName           string              `json:"lastName"`
	Email              string              `json:"email"`
	Phone              string              `json:"phone"`
	LicenseNumber      string              `json:"licenseNumber"`
	SpecializationIDs  []string            `json:"specializationIds"`
	Specializations    []specializationRef `json:"specializations"`
	Bio                string              `json:"bio"`
	Languages          []string            `json:"languages"`
	TimeZone           string              `json:"timeZone"`
	AppointmentMinutes int                 `json:"appointmentMinutes"`
	Active             bool                `json:"active"`
	Version            int64               `json:"version"`
	CreatedAt          time.Time           `json:"createdAt"`
	UpdatedAt          time.Time           `json:"updatedAt"`
}

func toDoctorJSON(d profile.Doctor) doctorJSON {
	out := doctorJSON{
		ID: d.ID, FirstName: d.FirstName, LastName: d.LastName, Email: d.Email, Phone: d.Phone,
		LicenseNumber: d.LicenseNumber, SpecializationIDs: d.SpecializationIDs, Bio: d.Bio, Languages: d.Languages,
		TimeZone: d.TimeZone, AppointmentMinutes: d.AppointmentMinutes, Active: d.Active, Version: d.Version,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		Specializations: make([]specializationRef, 0, len(d.Specializations)),
	}
	if d.UserID != "" {
		id := d.UserID
		out.UserID = &id
	}
	for _, s := range d.Specializations {
		out.Specializations = append(out.Specializations, specializationRef{ID: s.ID, Name: s.Name})
	}
	if out.SpecializationIDs == nil {
		out.SpecializationIDs = []string{}
	}
	if out.Languages == nil {
		out.Languages = []string{}
	}
	return out
}

// doctorWrite is the body of POST and PUT /doctors. The pointer fields are
// restricted: the service refuses them from callers who may not change
// them. A doctor as read may be written back whole: specializations, which
// repeats specializationIds with names, is ignored.
type doctorWrite struct {
	ID                 *string         `json:"id"`
	FirstName          string          `json:"firstName"`
	LastName           string          `json:"lastName"`
	Email              string          `json:"email"`
	Phone              string          `json:"phone"`
	LicenseNumber      *string         `json:"licenseNumber"`
	SpecializationIDs  []string        `json:"specializationIds"`
	Bio                string          `json:"bio"`
	Languages          []string        `json:"languages"`
	TimeZone           string          `json:"timeZone"`
	AppointmentMinutes int             `json:"appointmentMinutes"`
	UserID             *string         `json:"userId"`
	Active             *bool           `json:"active"`
	Version            *int64          `json:"version"`
	CreatedAt          *time.Time      `json:"createdAt"`
	UpdatedAt          *time.Time      `json:"updatedAt"`
	Specializations    json.RawMessage `json:"specializations"`
}

func (w doctorWrite) input() service.DoctorInput {
	return service.DoctorInput{
		ServerFields: service.ServerFields{ID: w.ID, Version: w.Version, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt},
		FirstName:    w.FirstName, LastName: w.LastName, Email: w.Email, Phone: w.Phone,
		LicenseNumber: w.LicenseNumber, SpecializationIDs: w.SpecializationIDs, Bio: w.Bio,
		Languages: w.Languages, TimeZone: w.TimeZone, AppointmentMinutes: w.AppointmentMinutes,
		UserID: w.UserID, Active: w.Active,
	}
}

type specializationJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func toSpecializationJSON(s profile.Specialization) specializationJSON {
	return specializationJSON{ID: s.ID, Name: s.Name, Description: s.Description, Version: s.Version,
		CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC()}
}

// specializationWrite is the body of POST and PUT /specializations; the
// server's fields are accepted as read.
type specializationWrite struct {
	ID          *string    `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Version     *int64     `json:"version"`
	CreatedAt   *time.Time `json:"createdAt"`
	UpdatedAt   *time.Time `json:"updatedAt"`
}

func (w specializationWrite) input() service.SpecializationInput {
	return service.SpecializationInput{
		ServerFields: service.ServerFields{ID: w.ID, Version: w.Version, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt},
		Name:         w.Name, Description: w.Description,
	}
}

type intervalJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type weeklyJSON struct {
	Day   string `json:"day"`
	Start string `json:"start"`
	End   string `json:"end"`
}

type exceptionJSON struct {
	Date      string         `json:"date"`
	Available *bool          `json:"available"`
	Intervals []intervalJSON `json:"intervals,omitempty"`
}

type availabilityJSON struct {
	DoctorID      string          `json:"doctorId"`
	TimeZone      string          `json:"timeZone"`
	SlotMinutes   int             `json:"slotMinutes"`
	BufferMinutes int             `json:"bufferMinutes"`
	Weekly        []weeklyJSON    `json:"weekly"`
	Exceptions    []exceptionJSON `json:"exceptions"`
	Version       int64           `json:"version"`
	UpdatedAt     time.Time       `json:"updatedAt"`
}

func toAvailabilityJSON(v service.AvailabilityView) availabilityJSON {
	a := v.Availability
	out := availabilityJSON{
		DoctorID: a.DoctorID, TimeZone: v.TimeZone, SlotMinutes: a.SlotMinutes, BufferMinutes: a.BufferMinutes,
		Weekly: []weeklyJSON{}, Exceptions: []exceptionJSON{}, Version: a.Version, UpdatedAt: a.UpdatedAt.UTC(),
	}
	for _, w := range a.WeeklyOut() {
		out.Weekly = append(out.Weekly, weeklyJSON(w))
	}
	for _, e := range a.Exceptions {
		avail := e.Available()
		ej := exceptionJSON{Date: e.Date.String(), Available: &avail}
		for _, iv := range e.Intervals {
			ej.Intervals = append(ej.Intervals, intervalJSON{Start: schedule.FormatClock(iv.Start), End: schedule.FormatClock(iv.End)})
		}
		out.Exceptions = append(out.Exceptions, ej)
	}
	return out
}

// availabilityWrite is the body of PUT /doctors/{id}/availability; what GET
// adds to the writable fields is accepted as read.
type availabilityWrite struct {
	DoctorID      *string         `json:"doctorId"`
	TimeZone      *string         `json:"timeZone"`
	SlotMinutes   *int            `json:"slotMinutes"`
	BufferMinutes *int            `json:"bufferMinutes"`
	Weekly        []weeklyJSON    `json:"weekly"`
	Exceptions    []exceptionJSON `json:"exceptions"`
	Version       *int64          `json:"version"`
	UpdatedAt     *time.Time      `json:"updatedAt"`
}

func (w availabilityWrite) input() service.AvailabilityInput {
	in := service.AvailabilityInput{
		ServerFields: service.ServerFields{ID: w.DoctorID, Version: w.Version, UpdatedAt: w.UpdatedAt},
		TimeZone:     w.TimeZone,
	}
	in.SlotMinutes, in.BufferMinutes = w.SlotMinutes, w.BufferMinutes
	for _, x := range w.Weekly {
		in.Weekly = append(in.Weekly, schedule.WeeklyInput(x))
	}
	for _, e := range w.Exceptions {
		ei := schedule.ExceptionInput{Date: e.Date, Available: e.Available}
		for _, iv := range e.Intervals {
			ei.Intervals = append(ei.Intervals, schedule.IntervalInput(iv))
		}
		in.Exceptions = append(in.Exceptions, ei)
	}
	return in
}

type slotJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

type slotsJSON struct {
	DoctorID string     `json:"doctorId"`
	TimeZone string     `json:"timeZone"`
	From     string     `json:"from"`
	To       string     `json:"to"`
	Slots    []slotJSON `json:"slots"`
}

func toSlotsJSON(l service.SlotList) slotsJSON {
	out := slotsJSON{DoctorID: l.DoctorID, TimeZone: l.TimeZone, From: l.From.String(), To: l.To.String(),
		Slots: make([]slotJSON, len(l.Slots))}
	for i, s := range l.Slots {
		out.Slots[i] = slotJSON{Start: s.Start.UTC(), End: s.End.UTC()}
	}
	return out
}
