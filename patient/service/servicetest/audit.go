package servicetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/ids"
)

// RunAuditRepositoryContract checks an AuditRepository: events of a patient
// come back unchanged, newest first, in keyset pages; events without a
// patient stay off every patient's trail. newRepo returns the repository
// over an empty store.
func RunAuditRepositoryContract(t *testing.T, newRepo func(t *testing.T) service.AuditRepository) {
	ctx := context.Background()
	s := newRepo(t)
	pid := ids.New()
	var evs []patient.AuditEvent
	for i := range 300 {
		ev := event(pid, patient.ActionRead)
		ev.OccurredAt = t0.Add(time.Duration(i) * time.Second)
		ev.RequestID = fmt.Sprint("req-", i)
		evs = append(evs, ev)
	}
	evs[1].Outcome, evs[1].Role = patient.OutcomeDenied, "PATIENT"
	evs = append(evs, event("", patient.ActionSearch))
	require.NoError(t, s.AppendAudit(ctx, evs...))

	var got []patient.AuditEvent
	cursor := ""
	for {
		trail, err := s.ListAudit(ctx, patient.AuditQuery{PatientID: pid, Limit: 100, Cursor: cursor})
		require.NoError(t, err)
		got = append(got, trail.Items...)
		if trail.NextCursor == "" {
			break
		}
		cursor = trail.NextCursor
	}
	require.Len(t, got, 300)
	assert.Equal(t, evs[299], got[0], "newest first")
	assert.Equal(t, evs[1], got[298])
	assert.Equal(t, evs[0], got[299])

	_, err := s.ListAudit(ctx, patient.AuditQuery{PatientID: pid, Cursor: "%%%"})
	AssertCursorRefused(t, err)
}
