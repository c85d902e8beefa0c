package password

import (
	"fmt"
	"testing"
)

// FuzzDecode feeds the PHC parser arbitrary strings: it must never panic,
// and a string it accepts must be exactly the canonical encoding of what it
// returned, in range, so that one stored hash has one spelling.
func FuzzDecode(f *testing.F) {
	good, err := Encode("violet tram cupboard", Cheap)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		good,
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",         // parameters out of order
		"$argon2id$v=19$m=64,m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",    // repeated parameter
		"$argon2id$v=19$m=064,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",        // leading zero
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNh\nbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",       // newline in the salt
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHR$a2V5a2V5a2V5a2V5a2V5a2V5",         // non-zero padding bits
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5",        // padded base64
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5$",        // trailing field
		"$argon2id$v=19$m=4294967296,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", // overflow
		"$argon2id$v=19$m=64,t=1,p=256$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$$$$",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"",
		"$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := Decode(s)
		if err != nil {
			return
		}
		if p.MemoryKiB == 0 || p.MemoryKiB > maxMemoryKiB || p.Time == 0 || p.Time > maxTime || p.Threads == 0 {
			t.Fatalf("accepted out-of-range parameters %+v in %q", p, s)
		}
		if int(p.SaltLen) != len(salt) || int(p.KeyLen) != len(key) || len(salt) < 8 || len(key) < 16 || len(key) > maxKeyLen {
			t.Fatalf("accepted lengths salt %d key %d (params %+v) in %q", len(salt), len(key), p, s)
		}
		canon := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s",
			p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
		if canon != s {
			t.Fatalf("accepted %q, whose canonical form is %q", s, canon)
		}
	})
}
