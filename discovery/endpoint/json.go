package endpoint

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/medisync/medisync/discovery/registry"
)

// Listing a service is the hot read path, and reflection-based encoding of
// many instances with three timestamps each dominated its cost. The
// appenders below write the same bytes encoding/json would (a test holds
// them to it) without reflection.

// AppendJSON appends r as JSON, followed by a newline as json.Encoder does.
func (r ServiceResponse) AppendJSON(b []byte) []byte {
	b = appendServiceView(b, r.View)
	return append(b, '\n')
}

func appendServiceView(b []byte, v registry.ServiceView) []byte {
	b = append(b, `{"service":`...)
	b = appendString(b, v.Name)
	b = append(b, `,"index":`...)
	b = strconv.AppendUint(b, v.Index, 10)
	b = append(b, `,"instances":[`...)
	for i, inst := range v.Instances {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendInstance(b, inst)
	}
	return append(b, "]}"...)
}

// AppendJSON appends r as JSON, followed by a newline.
func (r RegistryResponse) AppendJSON(b []byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, r.View.Index, 10)
	b = append(b, `,"startedAt":`...)
	b = appendTime(b, r.View.StartedAt)
	b = append(b, `,"services":[`...)
	for i, s := range r.View.Services {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendServiceView(b, s)
	}
	return append(b, "]}\n"...)
}

// appendInstance writes what FromInstance and encoding/json would.
func appendInstance(b []byte, i registry.Instance) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, i.ID)
	b = append(b, `,"address":`...)
	b = appendString(b, i.Address)
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(i.Port), 10)
	b = append(b, `,"status":`...)
	b = appendString(b, string(i.Status))
	b = append(b, `,"metadata":{`...)
	if len(i.Metadata) > 0 {
		keys := make([]string, 0, len(i.Metadata))
		for k := range i.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for n, k := range keys {
			if n > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, i.Metadata[k])
		}
	}
	b = append(b, `},"ttlSeconds":`...)
	b = strconv.AppendInt(b, int64(i.TTL/time.Second), 10)
	b = append(b, `,"registeredAt":`...)
	b = appendTime(b, i.RegisteredAt)
	b = append(b, `,"lastHeartbeat":`...)
	b = appendTime(b, i.LastHeartbeat)
	b = append(b, `,"leaseExpiresAt":`...)
	b = appendTime(b, i.LeaseExpiresAt)
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendString writes s as a JSON string. Names and addresses are plain
// ASCII and take the fast path; anything else is left to encoding/json so
// that escaping stays exactly its own.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendJSON appends r as JSON, followed by a newline.
func (r LeaseResponse) AppendJSON(b []byte) []byte {
	b = append(b, `{"service":`...)
	b = appendString(b, r.Service)
	b = append(b, `,"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"ttlSeconds":`...)
	b = strconv.AppendInt(b, int64(r.TTLSeconds), 10)
	b = append(b, `,"lastHeartbeat":`...)
	b = appendTime(b, r.LastHeartbeat)
	b = append(b, `,"leaseExpiresAt":`...)
	b = appendTime(b, r.LeaseExpiresAt)
	return append(b, "}\n"...)
}
