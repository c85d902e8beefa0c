package appointment

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTransitions(t *testing.T) {
	legal := map[[2]Status]bool{
		{Booked, Arrived}: true, {Booked, CheckedIn}: true, {Booked, Fulfilled}: true, {Booked, Cancelled}: true,
		{Booked, NoShow}: true, {Booked, EnteredInError}: true,
		{Arrived, CheckedIn}: true, {Arrived, Fulfilled}: true, {Arrived, Cancelled}: true, {Arrived, EnteredInError}: true,
		{CheckedIn, Fulfilled}: true, {CheckedIn, EnteredInError}: true,
		{Fulfilled, EnteredInError}: true, {Cancelled, EnteredInError}: true, {NoShow, EnteredInError}: true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			assert.Equal(t, legal[[2]Status{from, to}], CanMove(from, to), "%s -> %s", from, to)
		}
	}
	assert.False(t, Cancelled.Occupies())
	assert.False(t, EnteredInError.Occupies())
	assert.True(t, Fulfilled.Occupies())
	_, ok := ParseStatus("no-show")
	assert.False(t, ok)
	_, ok = ParseCancellationReason("bored")
	assert.False(t, ok)
}

func TestCheckTextAndClip(t *testing.T) {
	assert.Empty(t, CheckText("Headache\nsince\tMonday\r\n", 500))
	assert.Contains(t, CheckText("bad \xff byte", 500), "UTF-8")
	assert.Contains(t, CheckText("nul\x00", 500), "control")
	assert.Contains(t, CheckText("\u200e\u0085", 500), "control")
	assert.Contains(t, CheckText("ééé", 2), "at most 2")
	assert.Equal(t, "éé", Clip("ééé", 2))
	assert.Equal(t, "ab", Clip("ab", 2))
	assert.Equal(t, "", Clip("ab", 0))
}
