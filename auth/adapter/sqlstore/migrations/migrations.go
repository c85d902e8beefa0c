// Package migrations embeds the auth schema for every dialect, in the
// layout sqldb.Migrate expects: sqlite/, mysql/ and postgres/ at the root.
package migrations

import "embed"

// FS holds the goose migration files.
//
//go:embed sqlite/*.sql mysql/*.sql postgres/*.sql
var FS embed.FS
