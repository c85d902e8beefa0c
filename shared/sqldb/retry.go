package sqldb

import (
	"context"
	"math/rand/v2"
	"time"
)

// Retry runs fn up to attempts times while it fails only because of
// concurrent transactions (IsRetryable: a deadlock, a serialization
// failure, a lock wait timeout, a busy SQLite file), waiting a little
// longer each time, with jitter so that the writers a deadlock chose
// between do not meet again in step. fn must be safe to run again: a whole
// transaction, or one statement, which the error rolled back. It returns
// fn's last error, also when ctx ends while it waits to try again.
func Retry(ctx context.Context, attempts int, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt >= attempts || !IsRetryable(err) {
			return err
		}
		t := time.NewTimer(time.Duration(attempt*attempt)*3*time.Millisecond + rand.N(5*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
