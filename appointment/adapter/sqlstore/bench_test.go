package sqlstore_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// BenchmarkBookMySQL books distinct slots of 100 doctors from 32
// goroutines: the store's share of a booking on MariaDB.
func BenchmarkBookMySQL(b *testing.B) {
	db := sqltest.MySQL(b, sqlstore.Migrations())
	s := sqlstore.New(db)
	doctors := make([]string, 100)
	for i := range doctors {
		doctors[i] = ids.New()
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			k := i / len(doctors)
			a := repotest.New(doctors[i%len(doctors)], 30*k, 30*k+30)
			if err := s.Book(context.Background(), a, service.BookOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
