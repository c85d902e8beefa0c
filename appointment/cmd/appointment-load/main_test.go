package main

import (
	"context"
	"strings"
	"testing"
)

// The flags are checked before any database is touched, and a bad
// PostgreSQL server URL is refused without echoing it (it may hold a
// password).
func TestRunRefusesBadFlags(t *testing.T) {
	ok := options{addr: "127.0.0.1:0", database: "medisync_appointment_load_test", bookings: 10, doctors: 1, patients: 1}
	cases := map[string]struct {
		change func(*options)
		want   string
	}{
		"not loopback":   {func(o *options) { o.addr = "0.0.0.0:18084" }, "-addr must be a loopback address"},
		"bad database":   {func(o *options) { o.database = "other; DROP" }, "-database must be a plain name"},
		"mysql url":      {func(o *options) { o.pgServer = "mysql://secret@127.0.0.1/" }, "-postgres-server must be a postgres:// URL"},
		"fewer patients": {func(o *options) { o.doctors = 2 }, "-patients must be at least -doctors"},
		"unparsable url": {func(o *options) { o.pgServer = "postgres://u:se cret@%zz/" }, "-postgres-server must be a postgres:// URL"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o := ok
			c.change(&o)
			err := run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run: %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "se cret") {
				t.Fatalf("the error repeats the server URL: %v", err)
			}
		})
	}
}
