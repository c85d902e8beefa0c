package transport_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestRacesOverHTTPOnEveryDatabase: the whole stack, many clients at once.
func TestRacesOverHTTPOnEveryDatabase(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		statuses := func(n int, fn func(i int) response) map[int]int {
			out := map[int]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := fn(i)
					mu.Lock()
					out[r.Status]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			return out
		}
		// Fifty bookers, alternating two patients, for one slot.
		got := statuses(50, func(i int) response {
			tok := e.pat.Token
			if i%2 == 1 {
				tok = e.pat2.Token
			}
			return e.do("POST", "/api/v1/appointments", tok, e.booking(15, 10, 0, nil))
		})
		assert.Equal(t, map[int]int{201: 1, 409: 49}, got)
		assert.Equal(t, 1, e.count("appointments"))

		// One double click, eight requests with one key.
		got = statuses(8, func(int) response {
			return e.do("POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 11, 0, nil), "Idempotency-Key", "click")
		})
		assert.Equal(t, map[int]int{201: 8}, got)
		assert.Equal(t, 2, e.count("appointments"))
	})
}
