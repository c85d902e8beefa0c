// Package loaddb makes the database a load command runs its service on: a
// fresh one on the local MariaDB or PostgreSQL server, named for the run.
package loaddb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/medisync/medisync/shared/sqldb"
)

// Database is a load run's database on a MySQL server (MySQLServer, a
// mysql:// DSN prefix ending in "/") or, when PostgresServer (a
// postgres:// URL) is set, on that PostgreSQL server.
type Database struct {
	MySQLServer    string
	PostgresServer string
	Name           string
}

// DSN checks the name and returns the database's own DSN, for the service.
func (d Database) DSN() (string, error) {
	if strings.ContainsAny(d.Name, "`'\" ;") || !strings.HasPrefix(d.Name, "medisync_") {
		return "", errors.New("-database must be a plain name starting with medisync_")
	}
	if d.PostgresServer == "" {
		return "mysql://" + d.MySQLServer + d.Name + "?parseTime=true", nil
	}
	u, err := url.Parse(d.PostgresServer)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The parser's message may quote the DSN, password included.
		return "", errors.New("-postgres-server must be a postgres:// URL")
	}
	u.Path, u.RawPath = "/"+d.Name, ""
	return u.String(), nil
}

// Recreate drops the database, if it exists, and creates it empty.
func (d Database) Recreate(ctx context.Context) error {
	if _, err := d.DSN(); err != nil {
		return err
	}
	server, drop, create := "mysql://"+d.MySQLServer+"?parseTime=true",
		"DROP DATABASE IF EXISTS `"+d.Name+"`",
		"CREATE DATABASE `"+d.Name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
	hint := "MySQL server (run scripts/mariadb-up.sh)"
	if d.PostgresServer != "" {
		// FORCE ends the sessions of a previous run's service, if any is left.
		server, drop, create = d.PostgresServer,
			"DROP DATABASE IF EXISTS "+d.Name+" WITH (FORCE)",
			"CREATE DATABASE "+d.Name+" ENCODING 'UTF8'"
		hint = "PostgreSQL server (run scripts/postgres-up.sh)"
	}
	admin, err := sqldb.Open(ctx, server)
	if err != nil {
		return fmt.Errorf("%s: %w", hint, err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, drop); err != nil {
		return fmt.Errorf("drop database: %w", err)
	}
	if _, err := admin.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	return nil
}

// Count returns the rows of table in the database, or an error when the
// database or the table does not exist: whether a seed can be reused.
func (d Database) Count(ctx context.Context, table string) (int, error) {
	dsn, err := d.DSN()
	if err != nil {
		return 0, err
	}
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n, err
}
