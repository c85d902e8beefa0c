package servicetest

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/ids"
)

// RunAuditRecorderContract checks an AuditRecorder: once Record returns
// without error the event is stored, for concurrent callers too. newRecorder
// returns the recorder and the repository it stores into, over an empty
// store.
func RunAuditRecorderContract(t *testing.T, newRecorder func(t *testing.T) (service.AuditRecorder, service.AuditRepository)) {
	ctx := context.Background()
	rec, repo := newRecorder(t)
	pid := ids.New()

	ev := event(pid, patient.ActionRead)
	require.NoError(t, rec.Record(ctx, ev))
	trail, err := repo.ListAudit(ctx, patient.AuditQuery{PatientID: pid})
	require.NoError(t, err)
	assert.Equal(t, []patient.AuditEvent{ev}, trail.Items, "stored before Record returns")

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = rec.Record(ctx, event(pid, patient.ActionRead))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, n+1, auditCount(t, repo, pid), "every answered event is stored")
}
