package transport_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/records/transport"
	"github.com/medisync/medisync/shared/authn"
)

// The audit trail is the patient's and an administrator's to read: a
// doctor who treats the patient, and so reads their records, is refused it
// with a 403 (the records are no secret to them), and the refusal is on it.
func TestATreatingDoctorIsRefusedTheAuditTrail(t *testing.T) {
	h := newHarness(t, 1<<20)
	// "doctor" treats the patient through an appointment the patient booked.
	if r := h.do("doctor", "GET", "/encounters", nil); r.code != 200 {
		t.Fatalf("the treating doctor's read = %d %s", r.code, r.body)
	}
	before := h.deniedTo("doctor")
	r := h.do("doctor", "GET", "/audit", nil)
	assert.Equal(t, 403, r.code, "a treating doctor read the audit trail: %s", r.body)
	assert.Equal(t, before+1, h.deniedTo("doctor"), "the refusal is on the patient's audit trail")
}

// hiddenFrom is the patient service as it answers a caller who may not see
// a profile: not found, as for one that does not exist.
type hiddenFrom struct {
	service.PatientDirectory
	user *string
}

func (d hiddenFrom) Patient(ctx context.Context, id string) (service.PatientRef, error) {
	if p, _ := authn.FromContext(ctx); p.UserID == *d.user {
		return service.PatientRef{}, record.ErrNotFound
	}
	return d.PatientDirectory.Patient(ctx, id)
}

// A caller the patient service does not show the patient to gets the 404
// of a patient that does not exist, and the refusal is on that patient's
// trail all the same: probing for someone's records leaves a trace.
func TestARefusalOfAPatientHiddenFromTheCallerIsAudited(t *testing.T) {
	var hidden string
	h := newHarness(t, 1<<20, func(d *service.Deps) { d.Patients = hiddenFrom{d.Patients, &hidden} })
	hidden = h.uids["other"]
	for _, path := range []string{"/encounters", "/documents", "/audit"} {
		r := h.do("other", "GET", path, nil)
		assert.Equal(t, 404, r.code, "GET %s: %s", path, r.body)
	}
	assert.Equal(t, 3, h.deniedTo("other"), "each refusal is on the patient's audit trail")
}

// step is what one event of the trail says, without its ids and time.
type step struct {
	user, action, resource, resourceID, outcome, reason string
}

// trail reads the patient's audit trail as who, newest first, as steps.
func (h *harness) trail(who string) []step {
	h.t.Helper()
	r := h.do(who, "GET", "/audit?limit=100", nil)
	require.Equal(h.t, 200, r.code, "%s", r.body)
	var page struct {
		Items []struct {
			UserID, Action, Resource, Outcome string
			ResourceID, Reason                *string
		}
	}
	require.NoError(h.t, json.Unmarshal(r.body, &page))
	var out []step
	for _, e := range page.Items {
		s := step{user: e.UserID, action: e.Action, resource: e.Resource, outcome: e.Outcome}
		if e.ResourceID != nil {
			s.resourceID = *e.ResourceID
		}
		if e.Reason != nil {
			s.reason = *e.Reason
		}
		out = append(out, s)
	}
	return out
}

// Every read of a patient's records is on their trail before it is
// answered, the patient's own reads included, each naming what was read
// and, for an administrator's read of clinical content, the reason given
// to break the glass: encounters listed, one read, its revisions,
// documents listed, a document's metadata, its content, and the trail.
func TestEveryReadIsOnTheTrail(t *testing.T) {
	h := newHarness(t, 1<<20)
	enc := h.openSigned("doctor", h.patient)
	doc := h.upload("patient", h.patient, []byte("%PDF-1.7\nscan"))
	reads := []struct{ who, path, reason, action, resource, id string }{
		{"patient", "/encounters", "", "list", record.ResourceEncounter, ""},
		{"doctor", "/encounters/" + enc, "", "read", record.ResourceEncounter, enc},
		{"patient", "/encounters/" + enc + "/revisions", "", "read", record.ResourceRevisions, enc},
		{"admin", "/encounters", "review of prescriptions", "list", record.ResourceEncounter, ""},
		{"admin", "/documents/" + doc + "/content", "court order 2026-114", "download", record.ResourceContent, doc},
		{"doctor", "/documents", "", "list", record.ResourceDocument, ""},
		{"admin", "/documents/" + doc, "", "read", record.ResourceDocument, doc},
		{"patient", "/audit", "", "list", record.ResourceAudit, ""},
	}
	for _, x := range reads {
		var headers []string
		if x.reason != "" {
			headers = []string{transport.ReasonHeader, x.reason}
		}
		r := h.do(x.who, "GET", x.path, nil, headers...)
		require.Equal(t, 200, r.code, "%s GET %s: %s", x.who, x.path, r.body)
	}
	// Newest first: the reading of the trail below, then each read above.
	want := []step{{h.uids["patient"], "list", record.ResourceAudit, "", "allowed", ""}}
	for i := len(reads) - 1; i >= 0; i-- {
		x := reads[i]
		want = append(want, step{h.uids[x.who], x.action, x.resource, x.id, "allowed", x.reason})
	}
	got := h.trail("patient")
	require.GreaterOrEqual(t, len(got), len(want))
	assert.Equal(t, want, got[:len(want)])
}
