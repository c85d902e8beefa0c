// Package password holds the password rules (length bounds, refusal of
// common passwords) and the argon2id hasher with its bounded worker pool.
package password

import (
	"bufio"
	_ "embed"
	"errors"
	"strings"
	"unicode/utf8"
)

// Length bounds, counted in characters of the NFKC form.
const (
	MinLength = 12
	MaxLength = 128
)

//go:embed common-passwords.txt
var commonList string

// Policy decides whether a new password is acceptable.
type Policy struct {
	common map[string]struct{}
}

// NewPolicy loads the embedded list of common passwords.
func NewPolicy() *Policy {
	p := &Policy{common: make(map[string]struct{}, 45000)}
	sc := bufio.NewScanner(strings.NewReader(commonList))
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			p.common[line] = struct{}{}
		}
	}
	return p
}

// CommonCount is how many common passwords the policy refuses.
func (p *Policy) CommonCount() int { return len(p.common) }

// IsCommon reports whether pw is on the list, ignoring case and surrounding
// blanks.
func (p *Policy) IsCommon(pw string) bool {
	_, ok := p.common[strings.ToLower(strings.TrimSpace(pw))]
	return ok
}

// Check returns why pw is not acceptable for the account with the given
// (normalized) email, or nil. Any character is allowed; length is what
// makes a password strong, so there are no composition rules. The rules
// apply to the NFKC form, the one hashed.
func (p *Policy) Check(pw, email string) error {
	if !utf8.ValidString(pw) {
		return errors.New("must be valid UTF-8")
	}
	pw = Normalize(pw)
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinLength:
		return errors.New("must be at least 12 characters")
	case n > MaxLength:
		return errors.New("must be at most 128 characters")
	case p.IsCommon(pw):
		return errors.New("is too common; choose a less predictable password")
	case email != "" && strings.EqualFold(strings.TrimSpace(pw), email):
		return errors.New("must not be the email address")
	}
	return nil
}
