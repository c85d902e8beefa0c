// Package migrations embeds the auth schema for both dialects, in the
// layout sqldb.Migrate expects: sqlite/ and mysql/ at the root.
package migrations

import "embed"

// FS holds the goose migration files.
//
//go:embed sqlite/*.sql mysql/*.sql
var FS embed.FS
