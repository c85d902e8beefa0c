package civil

import (
	"errors"
	"regexp"
	"time"
)

// zoneName is the form of an IANA time zone name: components that each
// begin with an upper-case letter ("America/Argentina/Buenos_Aires",
// "Etc/GMT+5", "UTC"). time.LoadLocation reads the host's zoneinfo folder
// before the embedded tzdata, and that folder also holds files that are no
// zone of the database: "localtime" (the host's own zone, "Local" by
// another name), "posixrules", the "posix/" and "right/" (leap seconds)
// copies, tables such as "zone.tab". All of them begin with a lower-case
// letter, so the form refuses them whatever the host holds. Checking names
// against the embedded tzdata itself is not possible (time/tzdata offers
// no lookup), and a list copied into the code would go stale with tzdata
// releases that add zones.
var zoneName = regexp.MustCompile(`^[A-Z][A-Za-z0-9_+-]*(/[A-Z][A-Za-z0-9_+-]*)*$`)

// errNotZone is LoadZone's refusal of a name; its text is fit for a client.
var errNotZone = errors.New("must be an IANA time zone such as Europe/Berlin")

// LoadZone returns the location of an IANA time zone name. Names that are
// not of the form of the database's (zoneName), "Local", "Factory" (a
// placeholder, the offset of no place) and names the time zone database
// does not hold are refused: each would show times in a zone of no place,
// or in the host's own, whichever that is. The error's text is fit for a
// client.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return nil, errors.New("is required")
	}
	if !zoneName.MatchString(name) || name == "Local" || name == "Factory" {
		return nil, errNotZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errNotZone
	}
	return loc, nil
}

// ZoneOrUTC is the zone to write times in for a zone name a record or an
// event carries: the zone LoadZone loads, else UTC. A name LoadZone refuses
// ("Local", "localtime", "Factory", one gone from the database, none at
// all) never shows times in the host's own zone, nor stops what the record
// is for: a reader is better served by a time in UTC, which the text
// names, than by no mail.
func ZoneOrUTC(name string) *time.Location {
	if loc, err := LoadZone(name); err == nil {
		return loc
	}
	return time.UTC
}
