// Package registry is the discovery domain: instances of services holding
// leases, their statuses, the registry index that moves on every change a
// reader can see, eviction of lapsed leases, and a way to wait for a change.
// It keeps everything in memory; time is passed in by the caller.
package registry

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/domainerr"
)

// Status is an instance's health as the instance itself reports it.
type Status string

// Statuses an instance can have; only UP instances receive traffic. They
// are Eureka's five, so that both APIs map one to one.
const (
	Up           Status = "UP"
	Down         Status = "DOWN"
	OutOfService Status = "OUT_OF_SERVICE"
	Starting     Status = "STARTING"
	Unknown      Status = "UNKNOWN"
)

// Statuses lists every status, in the order the dashboard shows them.
var Statuses = []Status{Up, Down, OutOfService, Starting, Unknown}

// StatusRule says which statuses are accepted, for field errors.
const StatusRule = "must be UP, DOWN, OUT_OF_SERVICE, STARTING or UNKNOWN"

// ParseStatus accepts the five statuses, exactly as spelled.
func ParseStatus(s string) (Status, bool) {
	switch st := Status(s); st {
	case Up, Down, OutOfService, Starting, Unknown:
		return st, true
	}
	return "", false
}

// ErrNotFound is returned for an instance the registry does not hold.
var ErrNotFound = domainerr.New(domainerr.NotFound, "instance is not registered")

// ErrFull is returned for a new instance or service beyond the registry's
// bounds, which keep its memory bounded whoever registers.
var ErrFull = errors.New("the registry is full: no more instances or services may register")

// Limits bound what one registration may hold.
type Limits struct {
	DefaultTTL time.Duration
	MinTTL     time.Duration
	MaxTTL     time.Duration
	// MaxMetadataKeys, MaxMetadataKeyLen, MaxMetadataValueLen and
	// MaxMetadataBytes (keys and values together) bound metadata.
	MaxMetadataKeys     int
	MaxMetadataKeyLen   int
	MaxMetadataValueLen int
	MaxMetadataBytes    int
	// MaxInstances and MaxServices bound the registry as a whole: services
	// count while they have instances, an emptied one staying known only
	// until a new service needs its room; 0 means no bound.
	MaxInstances int
	MaxServices  int
	// ChangeRetention is how long the log of recent changes (the Eureka
	// delta) keeps an instance's last change; MaxChanges bounds its length
	// and MaxChangeBytes the memory it holds, so that the log stays small
	// whatever writers do. 0 in any of them keeps none.
	ChangeRetention time.Duration
	MaxChanges      int
	MaxChangeBytes  int
	// MaxBlocked bounds the readers parked on a change at once (each holds
	// a goroutine, a connection and a timer, for up to 5 minutes, and reads
	// need no token); past it a blocking query is answered at once with the
	// view as it is, and its client asks again after its pause. 0 means no
	// bound.
	MaxBlocked int
}

// DefaultLimits are the limits a server starts with.
func DefaultLimits() Limits {
	return Limits{
		DefaultTTL:          30 * time.Second,
		MinTTL:              5 * time.Second,
		MaxTTL:              300 * time.Second,
		MaxMetadataKeys:     32,
		MaxMetadataKeyLen:   64,
		MaxMetadataValueLen: 512,
		MaxMetadataBytes:    4096,
		MaxInstances:        50_000,
		MaxServices:         1_000,
		ChangeRetention:     3 * time.Minute,
		MaxChanges:          100_000,
		MaxChangeBytes:      8 << 20,
		MaxBlocked:          1_000,
	}
}

// Validate checks that the limits make sense together.
func (l Limits) Validate() error {
	switch {
	case l.MinTTL < time.Second:
		return fmt.Errorf("minimum TTL %s: must be at least 1s", l.MinTTL)
	case l.MaxTTL < l.MinTTL:
		return fmt.Errorf("maximum TTL %s is below the minimum %s", l.MaxTTL, l.MinTTL)
	case l.DefaultTTL < l.MinTTL || l.DefaultTTL > l.MaxTTL:
		return fmt.Errorf("default TTL %s is outside %s..%s", l.DefaultTTL, l.MinTTL, l.MaxTTL)
	case l.MaxMetadataKeys < 0 || l.MaxMetadataKeyLen < 1 || l.MaxMetadataValueLen < 0 || l.MaxMetadataBytes < 0:
		return errors.New("metadata limits must not be negative")
	case l.MaxInstances < 0 || l.MaxServices < 0:
		return errors.New("instance and service limits must not be negative")
	case l.ChangeRetention < 0 || l.MaxChanges < 0 || l.MaxChangeBytes < 0:
		return errors.New("change log limits must not be negative")
	case l.MaxBlocked < 0:
		return errors.New("the bound on blocked readers must not be negative")
	}
	return nil
}

// Registration is what an instance asks to be registered as.
type Registration struct {
	Service string
	ID      string
	Address string
	Port    int
	// TTLSeconds is the lease; 0 asks for the default.
	TTLSeconds int
	// Status "" means UP.
	Status   Status
	Metadata map[string]string
	// Extra is what an adapter keeps beyond these fields (the Eureka
	// adapter keeps the instance document); nil for none.
	Extra Extra
}

// Extra is data an adapter keeps with an instance; the registry holds it
// without looking inside. It must not be modified once registered. Equal
// tells a repeated registration, which is only a renewal, from a change;
// Size is about the bytes it holds, which the change log counts against
// MaxChangeBytes once the instance is gone.
type Extra interface {
	Equal(other Extra) bool
	Size() int
}

// StatusExtra is an Extra that changes when the instance's status is set
// through the registry's own API (Registry.SetStatus): WithStatus is the
// Extra the instance keeps once its status is set to status at now (nil for
// none; the receiver itself when nothing changes) and the status the
// instance then has, which its own report may outweigh (a Eureka instance
// reporting DOWN stays DOWN). It must not modify the receiver.
type StatusExtra interface {
	Extra
	WithStatus(now time.Time, status Status) (Extra, Status)
}

func sameExtra(a, b Extra) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(b)
}

var (
	serviceName  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	instanceID   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	hostLabel    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	metadataKey  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
	serviceRules = "1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit"
	idRules      = "1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
)

// ValidService reports whether name is a valid service name: a lowercase DNS
// label, so that it can stand as a host name (http://auth/).
func ValidService(name string) bool { return serviceName.MatchString(name) }

// ValidInstanceID reports whether id is a valid instance ID.
func ValidInstanceID(id string) bool { return instanceID.MatchString(id) }

// CheckKey validates a service name and an instance ID as path parts.
func CheckKey(service, id string) error {
	var fe domainerr.FieldErrors
	checkKey(&fe, service, id)
	return fe.Err()
}

// CheckService validates a service name.
func CheckService(service string) error {
	if !ValidService(service) {
		return domainerr.Field("service", "must be "+serviceRules)
	}
	return nil
}

func checkKey(fe *domainerr.FieldErrors, service, id string) {
	if !ValidService(service) {
		fe.Add("service", "must be "+serviceRules)
	}
	if !ValidInstanceID(id) {
		fe.Add("instanceId", "must be "+idRules)
	}
}

// ValidAddress reports whether a is an IP address or a host name (no port,
// no scheme).
func ValidAddress(a string) bool {
	if a == "" || len(a) > 253 {
		return false
	}
	if ip := net.ParseIP(a); ip != nil {
		return true
	}
	labels := strings.Split(strings.TrimSuffix(a, "."), ".")
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return false
		}
	}
	// A name made of digits and dots only is a malformed IPv4 address.
	return strings.Trim(a, "0123456789.") != ""
}

// ValidText reports a string of valid UTF-8 without control characters.
// Every reader (listings, logs, the dashboard) is served the strings an
// instance sent as they are, so a terminal or page showing them must not be
// steered by them.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// Validate checks a registration against the limits and returns its lease.
func (r Registration) Validate(l Limits) (time.Duration, error) {
	var fe domainerr.FieldErrors
	checkKey(&fe, r.Service, r.ID)
	if r.Address == "" {
		fe.Add("address", "is required")
	} else if !ValidAddress(r.Address) {
		fe.Add("address", "must be an IP address or a host name, without scheme or port")
	}
	if r.Port < 1 || r.Port > 65535 {
		fe.Add("port", "must be between 1 and 65535")
	}
	ttl := l.DefaultTTL
	if r.TTLSeconds != 0 {
		// Bounded before the multiplication, which would wrap around for a
		// huge value and could land inside the allowed range.
		ttl = time.Duration(min(max(r.TTLSeconds, 0), int(l.MaxTTL/time.Second)+1)) * time.Second
		if r.TTLSeconds < 0 || ttl < l.MinTTL || ttl > l.MaxTTL {
			fe.Add("ttlSeconds", fmt.Sprintf("must be between %d and %d (or omitted for %d)",
				int(l.MinTTL/time.Second), int(l.MaxTTL/time.Second), int(l.DefaultTTL/time.Second)))
		}
	}
	if r.Status != "" {
		if _, ok := ParseStatus(string(r.Status)); !ok {
			fe.Add("status", StatusRule)
		}
	}
	checkMetadata(&fe, "metadata", r.Metadata, l)
	return ttl, fe.Err()
}

// CheckMetadata checks a string map an adapter keeps beside the metadata
// (the Eureka data center's) by the metadata's rules, so that it is as
// bounded and as safe to render; field names it in the errors.
func (l Limits) CheckMetadata(field string, md map[string]string) error {
	var fe domainerr.FieldErrors
	checkMetadata(&fe, field, md, l)
	return fe.Err()
}

func checkMetadata(fe *domainerr.FieldErrors, field string, md map[string]string, l Limits) {
	if len(md) > l.MaxMetadataKeys {
		fe.Add(field, fmt.Sprintf("must have at most %d keys", l.MaxMetadataKeys))
		return
	}
	total := 0
	for k, v := range md {
		total += len(k) + len(v)
		switch {
		case len(k) > l.MaxMetadataKeyLen || !metadataKey.MatchString(k):
			fe.Add(field, fmt.Sprintf("key %.64q must be 1 to %d letters, digits, '.', '_', '/' or '-'", k, l.MaxMetadataKeyLen))
		case len(v) > l.MaxMetadataValueLen:
			fe.Add(field+"."+k, fmt.Sprintf("must be at most %d bytes", l.MaxMetadataValueLen))
		case !ValidText(v):
			fe.Add(field+"."+k, "must be UTF-8 text without control characters")
		}
	}
	if total > l.MaxMetadataBytes {
		fe.Add(field, fmt.Sprintf("keys and values must total at most %d bytes", l.MaxMetadataBytes))
	}
}

func fieldError(field, message string) error {
	return domainerr.Field(field, message)
}
