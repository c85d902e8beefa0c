// Package events holds the envelope every event between services travels
// in: CloudEvents 1.0 field names, a versioned schema per type.
package events

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/medisync/medisync/shared/ids"
)

// SpecVersion is the CloudEvents version the envelope follows.
const SpecVersion = "1.0"

// Event is one fact a service tells others, as it travels on the broker.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema"`
	Data            json.RawMessage `json:"data"`
	TraceParent     string          `json:"traceparent,omitempty"`
}

// typePattern is <service>.<noun>_<verb>, e.g. appointment.booked or
// auth.password_reset_requested.
var typePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z][a-z0-9_]*$`)

// New makes an event of the given type (its producer is the part before the
// dot) and schema version about subject, with data as its JSON payload.
func New(typ string, version int, subject string, data any, now time.Time) (Event, error) {
	if !typePattern.MatchString(typ) {
		return Event{}, fmt.Errorf("events: type %q is not <service>.<name>", typ)
	}
	if version < 1 {
		return Event{}, fmt.Errorf("events: %s: schema version %d", typ, version)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("events: %s: encode data: %w", typ, err)
	}
	return Event{
		SpecVersion:     SpecVersion,
		ID:              ids.New(),
		Type:            typ,
		Source:          "/medisync/" + Producer(typ),
		Subject:         subject,
		Time:            now.UTC().Truncate(time.Millisecond),
		DataContentType: "application/json",
		DataSchema:      fmt.Sprintf("docs/events/%s.v%d.json", typ, version),
		Data:            raw,
	}, nil
}

// Producer returns the service part of an event type.
func Producer(typ string) string {
	for i := 0; i < len(typ); i++ {
		if typ[i] == '.' {
			return typ[:i]
		}
	}
	return typ
}

// Topic is the broker subject an event is published on:
// medisync.<service>.<type without the service>.
func (e Event) Topic() string { return "medisync." + e.Type }

// Decode reads an event's data into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("events: %s %s: decode data: %w", e.Type, e.ID, err)
	}
	return nil
}
