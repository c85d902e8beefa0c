package schedule

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

func ptr[T any](v T) *T { return &v }

func TestParseClock(t *testing.T) {
	for in, want := range map[string]int{"00:00": 0, "09:30": 570, "23:59": 1439, "24:00": 1440} {
		got, ok := ParseClock(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"25:00", "24:01", "9:00", "09:60", "0900", "", "ab:cd", "09:00:00", "-1:00"} {
		_, ok := ParseClock(in)
		assert.False(t, ok, in)
	}
}

func fieldsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	var fe domainerr.FieldErrors
	require.True(t, errors.As(err, &fe), "want field errors, got %v", err)
	out := map[string]string{}
	for _, f := range fe {
		out[f.Field] = f.Message
	}
	return out
}

func TestParseValid(t *testing.T) {
	in := Input{
		SlotMinutes:   ptr(20),
		BufferMinutes: ptr(5),
		Weekly: []WeeklyInput{
			{Day: "MONDAY", Start: "13:00", End: "17:00"},
			{Day: "MONDAY", Start: "09:00", End: "12:00"},
			{Day: "MONDAY", Start: "12:00", End: "13:00"}, // touching is not overlapping
			{Day: "SUNDAY", Start: "22:00", End: "24:00"},
		},
		Exceptions: []ExceptionInput{
			{Date: "2027-12-31", Available: ptr(true), Intervals: []IntervalInput{{Start: "09:00", End: "11:00"}}},
			{Date: "2027-12-24", Available: ptr(false)},
		},
	}
	a, err := in.Parse("d1", 30)
	require.NoError(t, err)
	assert.Equal(t, 20, a.SlotMinutes)
	assert.Equal(t, 5, a.BufferMinutes)
	assert.Equal(t, []Interval{{540, 720}, {720, 780}, {780, 1020}}, a.Weekly[time.Monday])
	assert.Equal(t, []Interval{{1320, 1440}}, a.Weekly[time.Sunday])
	require.Len(t, a.Exceptions, 2)
	assert.Equal(t, "2027-12-24", a.Exceptions[0].Date.String(), "exceptions are sorted")
	assert.False(t, a.Exceptions[0].Available())
	assert.True(t, a.Exceptions[1].Available())

	assert.False(t, a.WorksOn(civil.New(2027, time.December, 24)))
	assert.True(t, a.WorksOn(civil.New(2027, time.December, 31)))
	assert.True(t, a.WorksOn(civil.New(2027, time.December, 27)), "a Monday")
	assert.False(t, a.WorksOn(civil.New(2027, time.December, 28)), "a Tuesday")

	out := a.WeeklyOut()
	require.Len(t, out, 4)
	assert.Equal(t, WeeklyInput{Day: "MONDAY", Start: "09:00", End: "12:00"}, out[0])
	assert.Equal(t, WeeklyInput{Day: "SUNDAY", Start: "22:00", End: "24:00"}, out[3])
}

func TestParseDefaultsSlotLength(t *testing.T) {
	a, err := Input{}.Parse("d1", 45)
	require.NoError(t, err)
	assert.Equal(t, 45, a.SlotMinutes)
	assert.Equal(t, 0, a.BufferMinutes)
}

func TestParseRefusesBadInput(t *testing.T) {
	cases := []struct {
		name  string
		in    Input
		field string
	}{
		{"slot zero", Input{SlotMinutes: ptr(0)}, "slotMinutes"},
		{"slot ten thousand", Input{SlotMinutes: ptr(10000)}, "slotMinutes"},
		{"slot four", Input{SlotMinutes: ptr(4)}, "slotMinutes"},
		{"negative buffer", Input{BufferMinutes: ptr(-5)}, "bufferMinutes"},
		{"huge buffer", Input{BufferMinutes: ptr(241)}, "bufferMinutes"},
		{"25:00", Input{Weekly: []WeeklyInput{{Day: "MONDAY", Start: "25:00", End: "26:00"}}}, "weekly[0].start"},
		{"end 24:30", Input{Weekly: []WeeklyInput{{Day: "MONDAY", Start: "09:00", End: "24:30"}}}, "weekly[0].end"},
		{"end before start", Input{Weekly: []WeeklyInput{{Day: "MONDAY", Start: "12:00", End: "09:00"}}}, "weekly[0].end"},
		{"empty interval", Input{Weekly: []WeeklyInput{{Day: "MONDAY", Start: "09:00", End: "09:00"}}}, "weekly[0].end"},
		{"unknown day", Input{Weekly: []WeeklyInput{{Day: "Funday", Start: "09:00", End: "10:00"}}}, "weekly[0].day"},
		{"lower-case day", Input{Weekly: []WeeklyInput{{Day: "monday", Start: "09:00", End: "10:00"}}}, "weekly[0].day"},
		{"overlap", Input{Weekly: []WeeklyInput{
			{Day: "TUESDAY", Start: "09:00", End: "12:00"},
			{Day: "TUESDAY", Start: "11:30", End: "13:00"},
		}}, "weekly[1]"},
		{"overlap reported on the later one", Input{Weekly: []WeeklyInput{
			{Day: "TUESDAY", Start: "11:30", End: "13:00"},
			{Day: "TUESDAY", Start: "09:00", End: "12:00"},
		}}, "weekly[0]"},
		{"contained", Input{Weekly: []WeeklyInput{
			{Day: "TUESDAY", Start: "09:00", End: "17:00"},
			{Day: "WEDNESDAY", Start: "09:00", End: "17:00"},
			{Day: "TUESDAY", Start: "10:00", End: "11:00"},
		}}, "weekly[2]"},
		{"bad exception date", Input{Exceptions: []ExceptionInput{{Date: "2027-02-30", Available: ptr(false)}}}, "exceptions[0].date"},
		{"exception without available", Input{Exceptions: []ExceptionInput{{Date: "2027-02-03"}}}, "exceptions[0].available"},
		{"day off with hours", Input{Exceptions: []ExceptionInput{{Date: "2027-02-03", Available: ptr(false),
			Intervals: []IntervalInput{{Start: "09:00", End: "10:00"}}}}}, "exceptions[0].intervals"},
		{"available without hours", Input{Exceptions: []ExceptionInput{{Date: "2027-02-03", Available: ptr(true)}}}, "exceptions[0].intervals"},
		{"exception interval overlap", Input{Exceptions: []ExceptionInput{{Date: "2027-02-03", Available: ptr(true),
			Intervals: []IntervalInput{{Start: "09:00", End: "10:00"}, {Start: "09:59", End: "11:00"}}}}}, "exceptions[0].intervals[1]"},
		{"exception interval 25:00", Input{Exceptions: []ExceptionInput{{Date: "2027-02-03", Available: ptr(true),
			Intervals: []IntervalInput{{Start: "09:00", End: "25:00"}}}}}, "exceptions[0].intervals[0].end"},
		{"duplicate exception", Input{Exceptions: []ExceptionInput{
			{Date: "2027-02-03", Available: ptr(false)}, {Date: "2027-02-03", Available: ptr(false)},
		}}, "exceptions[1].date"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.in.Parse("d1", 30)
			require.Error(t, err)
			fields := fieldsOf(t, err)
			assert.Contains(t, fields, c.field, "fields: %v", fields)
		})
	}
}

func TestParseReportsEveryField(t *testing.T) {
	_, err := Input{SlotMinutes: ptr(0), BufferMinutes: ptr(-1),
		Weekly: []WeeklyInput{{Day: "MONDAY", Start: "25:00", End: "09:00"}}}.Parse("d1", 30)
	fields := fieldsOf(t, err)
	assert.Len(t, fields, 3, "%v", fields)
}

// A body within the 256 KiB limit whose every interval is wrong, 1,000
// exceptions of 48 empty intervals (about 195 KB of JSON), makes 96,000
// field errors: Parse keeps problem.MaxFieldErrors of them and only counts
// the rest, so refusing it costs little memory. An exception whose errors
// were only counted is still refused: its date would otherwise be seen as
// taken and the exceptions repeating it (these dates repeat every 84) say
// so, one error too many each.
func TestParseOfManyBadIntervalsStaysSmallInMemory(t *testing.T) {
	var in Input
	for i := range 1000 {
		in.Exceptions = append(in.Exceptions, ExceptionInput{Date: fmt.Sprintf("2026-%02d-%02d", i%12+1, i%28+1), Available: ptr(true), Intervals: make([]IntervalInput, 48)})
	}
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	_, err := in.Parse("d", 30)
	runtime.ReadMemStats(&b)
	var fe domainerr.FieldErrors
	require.ErrorAs(t, err, &fe)
	assert.Len(t, fe, domainerr.MaxFieldErrors)
	assert.Equal(t, 1000*48*2, fe.Count())
	assert.Equal(t, "exceptions[0].intervals[0].start", fe[0].Field)
	assert.Less(t, b.TotalAlloc-a.TotalAlloc, uint64(1<<20), "%d objects", b.Mallocs-a.Mallocs)
}

// Each bound is inclusive: the longest slot and buffer, a full week of
// intervals, a day's most intervals and the most exceptions are accepted;
// one more is refused by naming the field, and a list past its bound is
// refused before its items are read.
func TestParseHoldsTheBounds(t *testing.T) {
	var week []WeeklyInput
	for _, day := range []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"} {
		for m := 0; m < MinutesPerDay; m += 30 {
			week = append(week, WeeklyInput{Day: day, Start: FormatClock(m), End: FormatClock(m + 30)})
		}
	}
	require.Len(t, week, MaxWeekly)
	dayIntervals := make([]IntervalInput, 0, MaxDayIntervals+1)
	for m := 0; m <= MinutesPerDay-30; m += 30 {
		dayIntervals = append(dayIntervals, IntervalInput{Start: FormatClock(m), End: FormatClock(m + 30)})
	}
	require.Len(t, dayIntervals, MaxDayIntervals)
	dayIntervals = append(dayIntervals, IntervalInput{Start: "23:45", End: "24:00"})
	var exceptions []ExceptionInput
	first := civil.MustParse("2027-01-01")
	for i := range MaxExceptions + 1 {
		exceptions = append(exceptions, ExceptionInput{Date: first.AddDays(i).String(), Available: ptr(false)})
	}

	a, err := Input{SlotMinutes: ptr(MaxSlotMinutes), BufferMinutes: ptr(MaxBufferMinutes), Weekly: week,
		Exceptions: append([]ExceptionInput{{Date: "2026-12-31", Available: ptr(true), Intervals: dayIntervals[:MaxDayIntervals]}},
			exceptions[:MaxExceptions-1]...)}.Parse("d1", 30)
	require.NoError(t, err)
	assert.Len(t, a.Exceptions, MaxExceptions)
	_, err = Input{SlotMinutes: ptr(MinSlotMinutes)}.Parse("d1", 30)
	require.NoError(t, err)

	cases := []struct {
		name  string
		in    Input
		field string
	}{
		{"slot past the longest", Input{SlotMinutes: ptr(MaxSlotMinutes + 1)}, "slotMinutes"},
		{"buffer past the longest", Input{BufferMinutes: ptr(MaxBufferMinutes + 1)}, "bufferMinutes"},
		{"too many weekly intervals", Input{Weekly: append(week, WeeklyInput{Day: "MONDAY", Start: "09:00", End: "10:00"})}, "weekly"},
		{"too many intervals in a day", Input{Exceptions: []ExceptionInput{{Date: "2026-12-31", Available: ptr(true), Intervals: dayIntervals}}}, "exceptions[0].intervals"},
		{"too many exceptions", Input{Exceptions: exceptions}, "exceptions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.in.Parse("d1", 30)
			fields := fieldsOf(t, err)
			assert.Len(t, fields, 1, "%v", fields)
			assert.Contains(t, fields, c.field)
		})
	}
}
