// Package ids makes and checks the identifiers of every resource: UUIDs,
// version 7 for new ones (ordered by creation time, friendly to B-tree
// indexes), always in their canonical lower-case 36-character form.
package ids

import (
	"strings"

	"github.com/google/uuid"
)

// New returns a fresh UUID v7.
func New() string { return uuid.Must(uuid.NewV7()).String() }

// Valid reports whether s is a UUID in its 36-character form (either case).
func Valid(s string) bool {
	return len(s) == 36 && uuid.Validate(s) == nil
}

// Canonical returns s in lower case when it is a valid UUID.
func Canonical(s string) (string, bool) {
	if !Valid(s) {
		return "", false
	}
	return strings.ToLower(s), true
}
