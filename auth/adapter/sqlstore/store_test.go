package sqlstore_test

import (
	"testing"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/service/servicetest"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/auth/signing/signingtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestStoreContract(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		servicetest.RunStoreContract(t, func(*testing.T) service.Store { return sqlstore.New(db) })
	})
}

func TestKeysContract(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		signingtest.RunRepositoryContract(t, func(*testing.T) signing.Repository { return sqlstore.NewKeys(db) })
	})
}
