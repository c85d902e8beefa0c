package schedule_test

import (
	"errors"
	"fmt"
	"testing"
	"time"
	// The zones fuzzed load the same on every host.
	_ "time/tzdata"

	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

// fuzzZones change their clocks by an hour, by half an hour (Lord Howe),
// by two hours (Troll), backwards in summer (Dublin, Casablanca), at
// midnight (Havana, Sao Paulo in its time) and by a whole day (Apia skipped
// 2011-12-30).
var fuzzZones = []string{
	"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia",
	"America/Havana", "America/Sao_Paulo", "Antarctica/Troll", "Europe/Dublin", "Africa/Casablanca",
}

// firstSlotDate and slotDates bound the dates a slots request may ask for,
// as the service does: 1970-01-03 up to 8999-12-30, at most 31 days.
var (
	firstSlotDate = civil.MustParse("1970-01-03")
	slotDates     = uint32(firstSlotDate.DaysUntil(civil.MustParse("8999-12-30")) - 31)
)

// fuzzClock writes two bytes as a time of day, a few of them past 24:00.
func fuzzClock(b []byte) string {
	v := (int(b[0])<<8 | int(b[1])) % 1445
	return fmt.Sprintf("%02d:%02d", v/60, v%60)
}

// fuzzInput builds the availability a client could send from raw bytes:
// weekly intervals of 5 bytes (day, start, end) and date exceptions of 10
// (date, kind, two intervals).
func fuzzInput(slot, buffer uint8, weekly, exceptions []byte, from civil.Date) schedule.Input {
	days := []string{"SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "monday"}
	s, b := int(slot)%250, int(buffer)%250
	in := schedule.Input{SlotMinutes: &s, BufferMinutes: &b}
	for ; len(weekly) >= 5; weekly = weekly[5:] {
		in.Weekly = append(in.Weekly, schedule.WeeklyInput{
			Day: days[weekly[0]%8], Start: fuzzClock(weekly[1:]), End: fuzzClock(weekly[3:]),
		})
	}
	for ; len(exceptions) >= 10; exceptions = exceptions[10:] {
		e := schedule.ExceptionInput{Date: from.AddDays(int(exceptions[0]%40) - 4).String()}
		kind := exceptions[1] % 4
		if kind > 0 {
			available := kind > 1
			e.Available = &available
		}
		for k := range int(kind) - 1 {
			e.Intervals = append(e.Intervals, schedule.IntervalInput{
				Start: fuzzClock(exceptions[2+4*k:]), End: fuzzClock(exceptions[4+4*k:]),
			})
		}
		in.Exceptions = append(in.Exceptions, e)
	}
	return in
}

func seedDay(s string) uint32 { return uint32(firstSlotDate.DaysUntil(civil.MustParse(s))) }

// FuzzSlots: any availability the validation accepts yields, in any zone
// and for any range a client may ask, slots inside the range, in order,
// apart, each of the declared length and starting on its interval's grid
// of wall-clock times; on a day whose clocks do not change, exactly the
// grid's slots. An availability refused names its fields.
func FuzzSlots(f *testing.F) {
	nineToFive := []byte{1, 0x02, 0x1c, 0x03, 0xfc, 2, 0x02, 0x1c, 0x03, 0xfc, 0, 0, 0, 0x05, 0xa0}
	night := []byte{0, 0, 0, 0x01, 0xe0, 0, 0x01, 0xe0, 0x05, 0xa0, 6, 0x00, 0x5a, 0x00, 0xb4}
	off := []byte{3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 5, 3, 0x00, 0x3c, 0x00, 0x96, 0x00, 0x96, 0x05, 0xa0}
	for _, s := range []struct {
		zone               uint8
		from               string
		span, slot, buffer uint8
		weekly, exceptions []byte
	}{
		{1, "2026-03-27", 6, 30, 0, nineToFive, nil},
		{1, "2026-10-23", 6, 45, 15, night, off},
		{2, "2026-03-06", 4, 20, 5, night, nil},
		{2, "2026-10-30", 4, 30, 10, night, off},
		{3, "2026-04-03", 4, 25, 0, night, nil},
		{3, "2026-10-02", 4, 30, 0, night, off},
		{4, "2011-12-28", 5, 60, 0, night, nil},
		{5, "2026-03-06", 3, 15, 0, night, nil},
		{7, "2026-03-27", 3, 60, 0, night, nil},
		{9, "2026-02-13", 30, 30, 0, night, off},
		{0, "8999-11-20", 30, 240, 240, nineToFive, off},
		{1, "2026-03-27", 6, 3, 0, []byte{9, 0xff, 0xff, 0, 1}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		f.Add(s.zone, seedDay(s.from), s.span, s.slot, s.buffer, s.weekly, s.exceptions)
	}
	f.Fuzz(func(t *testing.T, zone uint8, fromDay uint32, span, slot, buffer uint8, weekly, exceptions []byte) {
		loc, err := time.LoadLocation(fuzzZones[int(zone)%len(fuzzZones)])
		if err != nil {
			t.Fatal(err)
		}
		from := firstSlotDate.AddDays(int(fromDay % slotDates))
		to := from.AddDays(int(span % 31))
		a, err := fuzzInput(slot, buffer, weekly, exceptions, from).Parse("d", 30)
		if err != nil {
			var fe domainerr.FieldErrors
			if !errors.As(err, &fe) || len(fe) == 0 {
				t.Fatalf("refused with %v, not errors naming fields", err)
			}
			for _, e := range fe {
				if e.Field == "" && fe.Count() <= domainerr.MaxFieldErrors {
					t.Fatalf("refused with an error naming no field: %v", err)
				}
			}
			return
		}
		slots := a.Slots(loc, from, to, time.Time{}, nil)
		first, last := from.In(loc), to.AddDays(1).In(loc)
		step := a.SlotMinutes + a.BufferMinutes
		perDay := map[civil.Date][]schedule.Range{}
		for i, s := range slots {
			if s.Start.Location() != time.UTC || s.End.Location() != time.UTC {
				t.Fatalf("slot %d %v is not in UTC", i, s)
			}
			if s.Start.Before(first) || s.End.After(last) {
				t.Fatalf("slot %d %v lies outside %s..%s", i, s, from, to)
			}
			if s.End.Sub(s.Start) != time.Duration(a.SlotMinutes)*time.Minute {
				t.Fatalf("slot %d %v does not last %d minutes", i, s, a.SlotMinutes)
			}
			if i > 0 && s.Start.Before(slots[i-1].End) {
				t.Fatalf("slot %d %v overlaps or precedes %v", i, s, slots[i-1])
			}
			local := s.Start.In(loc)
			d, m := civil.Of(local), local.Hour()*60+local.Minute()
			if local.Second() != 0 || !onGrid(a.IntervalsOn(d), m, a.SlotMinutes, step) {
				t.Fatalf("slot %d %v starts at %s %s, on no working interval's grid", i, s, d, local.Format("15:04:05"))
			}
			if s.End.After(d.AddDays(1).In(loc)) {
				t.Fatalf("slot %d %v runs past the end of %s", i, s, d)
			}
			perDay[d] = append(perDay[d], s)
		}
		// A day of one UTC offset throughout offers every slot of its grid.
		for d := from; !d.After(to); d = d.AddDays(1) {
			start, next := d.In(loc), d.AddDays(1).In(loc)
			_, end := start.ZoneBounds()
			if next.Sub(start) != 24*time.Hour || !end.IsZero() && end.Before(next) {
				continue
			}
			var want []schedule.Range
			for _, iv := range a.IntervalsOn(d) {
				for m := iv.Start; m+a.SlotMinutes <= iv.End; m += step {
					at := start.Add(time.Duration(m) * time.Minute)
					want = append(want, schedule.Range{Start: at.UTC(), End: at.Add(time.Duration(a.SlotMinutes) * time.Minute).UTC()})
				}
			}
			got := perDay[d]
			if len(got) != len(want) {
				t.Fatalf("%s in %s: %d slots, want %d", d, loc, len(got), len(want))
			}
			for i := range want {
				if !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) {
					t.Fatalf("%s in %s: slot %d is %v, want %v", d, loc, i, got[i], want[i])
				}
			}
		}
	})
}

// onGrid reports whether minute m starts a slot of one of ivs.
func onGrid(ivs []schedule.Interval, m, slot, step int) bool {
	for _, iv := range ivs {
		if m >= iv.Start && m+slot <= iv.End && (m-iv.Start)%step == 0 {
			return true
		}
	}
	return false
}

// FuzzParseClock: a time of day or a weekday that parses is written back
// as the client wrote it; the clock lies in 00:00..24:00.
func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"00:00", "09:30", "24:00", "24:01", "23:60", "9:30", "09:3", "0930", "-1:00", "MONDAY", "monday", "SUNDAY"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, ok := schedule.ParseClock(s); ok {
			if m < 0 || m > schedule.MinutesPerDay || schedule.FormatClock(m) != s {
				t.Fatalf("ParseClock(%q) = %d, written %q", s, m, schedule.FormatClock(m))
			}
		}
		if d, ok := schedule.ParseWeekday(s); ok && schedule.WeekdayName(d) != s {
			t.Fatalf("ParseWeekday(%q) = %v, written %q", s, d, schedule.WeekdayName(d))
		}
	})
}
