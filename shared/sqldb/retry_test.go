package sqldb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/sqldb"
)

func TestRetryRunsAgainOnlyWhatConcurrencyAborted(t *testing.T) {
	deadlock := &mysql.MySQLError{Number: 1213, Message: "Deadlock found"}
	ctx := context.Background()

	calls := 0
	err := sqldb.Retry(ctx, 4, func() error {
		calls++
		if calls < 3 {
			return deadlock
		}
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, 3, calls, "a deadlock is retried until the statement goes through")

	calls = 0
	err = sqldb.Retry(ctx, 4, func() error { calls++; return deadlock })
	assert.ErrorIs(t, err, deadlock)
	assert.Equal(t, 4, calls, "the attempts are bounded")

	calls = 0
	other := errors.New("syntax")
	err = sqldb.Retry(ctx, 4, func() error { calls++; return other })
	assert.ErrorIs(t, err, other)
	assert.Equal(t, 1, calls, "any other error is returned at once")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	calls = 0
	err = sqldb.Retry(canceled, 4, func() error { calls++; return deadlock })
	assert.ErrorIs(t, err, deadlock)
	assert.Equal(t, 1, calls, "an ended context stops the retries")
}
