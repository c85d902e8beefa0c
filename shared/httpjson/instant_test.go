package httpjson_test

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/problem"
)

// A malformed instant in a body field is a validation problem naming the
// field, like every other wrong value, not "malformed JSON" with Go's
// parser text and no field.
func TestDecodeBadInstantNamesTheField(t *testing.T) {
	var v struct {
		UpdatedAt *time.Time `json:"updatedAt"`
	}
	for _, body := range []string{`{"updatedAt":"yesterday"}`, `{"updatedAt":"2026-13-01T00:00:00Z"}`, `{"updatedAt":0}`} {
		err := httpjson.DecodeReader(strings.NewReader(body), &v)
		var p *problem.Problem
		if !errors.As(err, &p) {
			t.Fatalf("%s: %v is no problem", body, err)
		}
		var fields []string
		for _, e := range p.Errors {
			fields = append(fields, e.Field)
		}
		if len(fields) != 1 || fields[0] != "updatedAt" {
			t.Errorf("%s: %d %q fields=%v, want a validation problem naming updatedAt", body, p.Status, p.Detail, fields)
		}
	}
}

func TestDecodeBadInstantNamesItsPath(t *testing.T) {
	var v struct {
		Visits []struct {
			At time.Time `json:"at"`
		} `json:"visits"`
		Address struct {
			Since *time.Time `json:"since"`
		} `json:"address"`
		Seen map[string]time.Time `json:"seen"`
	}
	for body, field := range map[string]string{
		`{"visits":[{"at":"2026-01-02T15:04:05Z"},{"at":"noon"}]}`: "visits[1].at",
		`{"address":{"since":"2026-02-30T00:00:00Z"}}`:             "address.since",
		`{"ADDRESS":{"Since":[]}}`:                                 "ADDRESS.Since",
		`{"seen":{"a":"2026-01-02T15:04:05Z","b":true}}`:           "seen.b",
		// The first in the order of the body, as encoding/json stops there.
		`{"visits":[{"at":"x"}],"address":{"since":"y"}}`: "visits[0].at",
	} {
		p := problemOf(t, httpjson.DecodeReader(strings.NewReader(body), &v))
		assert.Equal(t, problem.TypeValidation, p.Type, body)
		assert.Equal(t, []problem.FieldError{{Field: field, Message: "must be an RFC 3339 instant, such as 2026-01-02T15:04:05Z"}}, p.Errors, body)
	}
}

// An instant in a body is read by RFC 3339's grammar, as the OpenAPI
// documents' date-time says: what time.Time's own UnmarshalJSON takes
// beyond it is a 400 naming the field.
func TestDecodeInstantsFollowRFC3339(t *testing.T) {
	type body struct {
		UpdatedAt *time.Time `json:"updatedAt"`
		Visits    []struct {
			At time.Time `json:"at"`
		} `json:"visits"`
		Seen map[string]*time.Time `json:"seen"`
		Name string                `json:"name"`
	}
	for in, field := range map[string]string{
		`{"updatedAt":"2030-01-16T09:00:00+23:60"}`:                                           "updatedAt",
		`{"updatedAt":"2030-01-16T10:00:00+24:00"}`:                                           "updatedAt",
		`{"updatedAt":"2030-01-15T11:00:00,5Z"}`:                                              "updatedAt",
		`{"updatedAt":"2030-01-15T1:00:00Z"}`:                                                 "updatedAt",
		`{"visits":[{"at":"2030-01-15T11:00:00Z"},{"at":"2030-01-15T11:00:00,0Z"}]}`:          "visits[1].at",
		`{"name":"2030-01-15T11:00:00,0Z","seen":{"a":null,"b":"2030-01-15T11:00:00-24:00"}}`: "seen.b",
	} {
		var v body
		p := problemOf(t, httpjson.DecodeReader(strings.NewReader(in), &v))
		assert.Equal(t, []problem.FieldError{{Field: field, Message: "must be an RFC 3339 instant, such as 2026-01-02T15:04:05Z"}}, p.Errors, in)
	}
	var v body
	require.NoError(t, httpjson.DecodeReader(strings.NewReader(`{"updatedAt":null,"visits":[{"at":"2030-01-15T11:00:00.5+23:59"}],"seen":{"a":"2030-01-15T11:00:00-00:00"},"name":"x,0Z"}`), &v))
	assert.True(t, time.Date(2030, 1, 14, 11, 1, 0, 500_000_000, time.UTC).Equal(v.Visits[0].At))
}

// addendumBody and encounterPutBody mirror records' PUT /encounters/{id}
// body (records/transport/dto.go): 1 MiB allowed, instants in its elements.
type addendumBody struct {
	ID          string    `json:"id"`
	EncounterID string    `json:"encounterId"`
	AuthorID    string    `json:"authorId"`
	Text        string    `json:"text"`
	CreatedAt   time.Time `json:"createdAt"`
}

type encounterPutBody struct {
	Note      string         `json:"note"`
	UpdatedAt *time.Time     `json:"updatedAt"`
	Addenda   []addendumBody `json:"addenda"`
	Version   *int64         `json:"version"`
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A large body whose type holds an instant costs about what decoding it
// costs, valid or refused: the walk for instants, and for the path of a
// refused value, does not multiply the work (ADR 0045).
func TestLargeBodyWithInstantsCostsAboutItsDecoding(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"addenda":[`)
	for b.Len() < 1<<20-100 {
		b.WriteString(`{},`)
	}
	b.WriteString(`{}]}`)
	body := b.String()

	plain := allocated(func() { require.NoError(t, json.Unmarshal([]byte(body), &encounterPutBody{})) })
	ours := allocated(func() { require.NoError(t, httpjson.DecodeReader(strings.NewReader(body), &encounterPutBody{})) })
	assert.LessOrEqual(t, ours, 3*plain, "DecodeReader allocates %d MB for a 1 MiB valid body, json.Unmarshal %d MB", ours>>20, plain>>20)

	bad := strings.Replace(body, `{}]}`, `{"text":1}]}`, 1)
	failed := allocated(func() { require.Error(t, httpjson.DecodeReader(strings.NewReader(bad), &encounterPutBody{})) })
	assert.LessOrEqual(t, failed, 3*plain, "DecodeReader allocates %d MB to name the field of a 1 MiB refused body", failed>>20)
}
