// Package schedule holds a doctor's working hours (weekly intervals and date
// exceptions, in the doctor's time zone) and turns them into bookable slots
// as UTC instants, correctly across daylight-saving changes.
package schedule

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

// Bounds of an availability.
const (
	MinSlotMinutes   = 5
	MaxSlotMinutes   = 240
	MaxBufferMinutes = 240
	MaxWeekly        = 7 * 48
	MaxExceptions    = 1000
	MaxDayIntervals  = 48
	MinutesPerDay    = 24 * 60
)

// Interval is a span of wall-clock time within one local day, in minutes
// since local midnight: Start in [0, 1440), End in (Start, 1440]. 1440 is
// 24:00, the end of the day.
type Interval struct {
	Start int
	End   int
}

// String formats the interval as HH:MM-HH:MM.
func (iv Interval) String() string { return FormatClock(iv.Start) + "-" + FormatClock(iv.End) }

// Exception replaces the weekly hours on one date: no intervals is a day off.
type Exception struct {
	Date      civil.Date
	Intervals []Interval
}

// Available reports whether the doctor works on the exception's date.
func (e Exception) Available() bool { return len(e.Intervals) > 0 }

// Availability is a doctor's working pattern, read in the doctor's time zone.
type Availability struct {
	DoctorID      string
	SlotMinutes   int
	BufferMinutes int
	// Weekly holds the sorted, non-overlapping intervals of each weekday,
	// indexed by time.Weekday (Sunday is 0).
	Weekly [7][]Interval
	// Exceptions are sorted by date, one per date.
	Exceptions []Exception
	Version    int64
	UpdatedAt  time.Time
}

// Default is the availability of a new doctor: no hours yet.
func Default(doctorID string, slotMinutes int) Availability {
	if slotMinutes < MinSlotMinutes || slotMinutes > MaxSlotMinutes {
		slotMinutes = 30
	}
	return Availability{DoctorID: doctorID, SlotMinutes: slotMinutes}
}

// IntervalsOn returns the working intervals of date d: the exception's when
// there is one, the weekday's otherwise.
func (a Availability) IntervalsOn(d civil.Date) []Interval {
	if e, ok := a.exception(d); ok {
		return e.Intervals
	}
	return a.Weekly[d.Weekday()]
}

// WorksOn reports whether the doctor has any working hours on d.
func (a Availability) WorksOn(d civil.Date) bool { return len(a.IntervalsOn(d)) > 0 }

func (a Availability) exception(d civil.Date) (Exception, bool) {
	i := sort.Search(len(a.Exceptions), func(i int) bool { return !a.Exceptions[i].Date.Before(d) })
	if i < len(a.Exceptions) && a.Exceptions[i].Date == d {
		return a.Exceptions[i], true
	}
	return Exception{}, false
}

// Weekday names as clients write them.
var weekdayNames = [7]string{"SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"}

// WeekdayName returns MONDAY, TUESDAY... for d.
func WeekdayName(d time.Weekday) string { return weekdayNames[d] }

// ParseWeekday reads MONDAY..SUNDAY (upper case, as the API documents it).
func ParseWeekday(s string) (time.Weekday, bool) {
	for i, n := range weekdayNames {
		if s == n {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// FormatClock formats minutes since midnight as HH:MM (1440 is 24:00).
func FormatClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// ParseClock reads HH:MM between 00:00 and 24:00 into minutes since midnight.
func ParseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// IntervalInput is an interval as a client writes it.
type IntervalInput struct {
	Start string
	End   string
}

// WeeklyInput is a weekly interval as a client writes it.
type WeeklyInput struct {
	Day   string
	Start string
	End   string
}

// ExceptionInput is a date exception as a client writes it.
type ExceptionInput struct {
	Date      string
	Available *bool
	Intervals []IntervalInput
}

// Input is an availability as a client writes it; Parse validates it.
type Input struct {
	SlotMinutes   *int
	BufferMinutes *int
	Weekly        []WeeklyInput
	Exceptions    []ExceptionInput
}

const clockMessage = "must be a time HH:MM between 00:00 and 24:00"

// Parse validates in and returns the availability it describes. Every
// problem is reported with the JSON path of its field. defaultSlot is used
// when slotMinutes is absent.
func (in Input) Parse(doctorID string, defaultSlot int) (Availability, error) {
	var fe domainerr.FieldErrors
	a := Availability{DoctorID: doctorID, SlotMinutes: defaultSlot}
	if in.SlotMinutes != nil {
		a.SlotMinutes = *in.SlotMinutes
	}
	if a.SlotMinutes < MinSlotMinutes || a.SlotMinutes > MaxSlotMinutes {
		fe.Add("slotMinutes", fmt.Sprintf("must be between %d and %d", MinSlotMinutes, MaxSlotMinutes))
	}
	if in.BufferMinutes != nil {
		a.BufferMinutes = *in.BufferMinutes
	}
	if a.BufferMinutes < 0 || a.BufferMinutes > MaxBufferMinutes {
		fe.Add("bufferMinutes", fmt.Sprintf("must be between 0 and %d", MaxBufferMinutes))
	}

	if len(in.Weekly) > MaxWeekly {
		fe.Add("weekly", fmt.Sprintf("must hold at most %d intervals", MaxWeekly))
	} else {
		var byDay [7][]labelled
		for i, w := range in.Weekly {
			path := fmt.Sprintf("weekly[%d]", i)
			day, dayOK := ParseWeekday(w.Day)
			if !dayOK {
				fe.Add(path+".day", "must be one of MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY")
			}
			iv, ok := parseInterval(&fe, path, w.Start, w.End)
			if ok && dayOK {
				byDay[day] = append(byDay[day], labelled{iv, path})
			}
		}
		for d := range byDay {
			a.Weekly[d] = sortedNoOverlap(&fe, byDay[d])
		}
	}

	if len(in.Exceptions) > MaxExceptions {
		fe.Add("exceptions", fmt.Sprintf("must hold at most %d dates", MaxExceptions))
	} else {
		seen := map[civil.Date]string{}
		for i, e := range in.Exceptions {
			path := fmt.Sprintf("exceptions[%d]", i)
			ex, ok := parseException(&fe, path, e)
			if !ok {
				continue
			}
			if prev, dup := seen[ex.Date]; dup {
				fe.Add(path+".date", "repeats the date of "+prev)
				continue
			}
			seen[ex.Date] = path
			a.Exceptions = append(a.Exceptions, ex)
		}
		sort.Slice(a.Exceptions, func(i, j int) bool { return a.Exceptions[i].Date.Before(a.Exceptions[j].Date) })
	}
	if err := fe.Err(); err != nil {
		return Availability{}, err
	}
	return a, nil
}

type labelled struct {
	iv   Interval
	path string
}

func parseInterval(fe *domainerr.FieldErrors, path, start, end string) (Interval, bool) {
	s, okS := ParseClock(start)
	if !okS {
		fe.Add(path+".start", clockMessage)
	}
	e, okE := ParseClock(end)
	if !okE {
		fe.Add(path+".end", clockMessage)
	}
	if !okS || !okE {
		return Interval{}, false
	}
	if e <= s {
		fe.Add(path+".end", "must be after start ("+start+")")
		return Interval{}, false
	}
	return Interval{Start: s, End: e}, true
}

// sortedNoOverlap sorts one day's intervals and reports every overlap.
// Intervals that only touch (09:00-12:00 and 12:00-13:00) do not overlap.
func sortedNoOverlap(fe *domainerr.FieldErrors, ivs []labelled) []Interval {
	if len(ivs) == 0 {
		return nil
	}
	sort.SliceStable(ivs, func(i, j int) bool { return ivs[i].iv.Start < ivs[j].iv.Start })
	out := make([]Interval, 0, len(ivs))
	last := ivs[0]
	out = append(out, last.iv)
	for _, cur := range ivs[1:] {
		if cur.iv.Start < last.iv.End {
			fe.Add(cur.path, fmt.Sprintf("%s overlaps %s (%s)", cur.iv, last.path, last.iv))
			if cur.iv.End > last.iv.End {
				last = cur
			}
			continue
		}
		out = append(out, cur.iv)
		last = cur
	}
	return out
}

func parseException(fe *domainerr.FieldErrors, path string, e ExceptionInput) (Exception, bool) {
	// Counted rather than measured: fe keeps no more than its cap.
	n := fe.Count()
	d, err := civil.Parse(e.Date)
	if err != nil {
		fe.Add(path+".date", err.Error())
	}
	if e.Available == nil {
		fe.Add(path+".available", "is required: false for a day off, true with intervals for other hours")
		return Exception{}, false
	}
	ex := Exception{Date: d}
	switch {
	case !*e.Available && len(e.Intervals) > 0:
		fe.Add(path+".intervals", "must be empty when available is false")
	case *e.Available && len(e.Intervals) == 0:
		fe.Add(path+".intervals", "must hold at least one interval when available is true")
	case len(e.Intervals) > MaxDayIntervals:
		fe.Add(path+".intervals", fmt.Sprintf("must hold at most %d intervals", MaxDayIntervals))
	case *e.Available:
		var ivs []labelled
		for j, iv := range e.Intervals {
			var p string // past fe's cap errors are only counted, unnamed
			if !fe.Full() {
				p = fmt.Sprintf("%s.intervals[%d]", path, j)
			}
			if parsed, ok := parseInterval(fe, p, iv.Start, iv.End); ok {
				ivs = append(ivs, labelled{parsed, p})
			}
		}
		ex.Intervals = sortedNoOverlap(fe, ivs)
	}
	return ex, fe.Count() == n
}

// WeeklyOut lists the weekly intervals Monday first, for clients.
func (a Availability) WeeklyOut() []WeeklyInput {
	var out []WeeklyInput
	for k := 1; k <= 7; k++ {
		d := time.Weekday(k % 7)
		for _, iv := range a.Weekly[d] {
			out = append(out, WeeklyInput{Day: weekdayNames[d], Start: FormatClock(iv.Start), End: FormatClock(iv.End)})
		}
	}
	return out
}

// Describe is a short summary for logs: no personal data.
func (a Availability) Describe() string {
	n := 0
	for _, d := range a.Weekly {
		n += len(d)
	}
	return strings.Join([]string{
		fmt.Sprintf("slot=%d", a.SlotMinutes), fmt.Sprintf("buffer=%d", a.BufferMinutes),
		fmt.Sprintf("weekly=%d", n), fmt.Sprintf("exceptions=%d", len(a.Exceptions)),
	}, " ")
}
