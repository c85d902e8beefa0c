#!/usr/bin/env bash
# Walks the main story through the gateway of a running system (make run):
# a patient registers and creates a profile, the admin creates a doctor, the
# doctor sets availability, the patient lists slots, books one (the slot
# disappears from the list, the appointment appears in theirs), the doctor
# records an allergy and the patient reads it, the patient cancels (the slot
# is back, and the doctor no longer reads the patient's history).
# Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

GW=${GATEWAY_URL:-http://localhost:8080}
# The secrets of make run, unless the caller gives the administrator's own.
if [ -z "${MEDISYNC_ADMIN_PASSWORD:-}" ] && [ -f data/dev-secrets.env ]; then
  set -a; . data/dev-secrets.env; set +a
fi
: "${MEDISYNC_ADMIN_EMAIL:?set MEDISYNC_ADMIN_EMAIL (make run writes data/dev-secrets.env)}"
: "${MEDISYNC_ADMIN_PASSWORD:?set MEDISYNC_ADMIN_PASSWORD}"

run=$(date +%s)-$RANDOM
step() { printf '\n== %s\n' "$*"; }

# call METHOD PATH TOKEN [BODY] [extra curl args...]: prints the body, fails
# on a status other than the one in $want (default 2xx).
call() {
  local method=$1 path=$2 token=$3 body=${4:-}
  shift 4 || shift $#
  local args=(-sS -o /tmp/medisync-smoke.body -w '%{http_code}' -X "$method" "$GW$path" -H 'Accept: application/json')
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  local code
  code=$(curl "${args[@]}" "$@")
  if [[ ! $code =~ ^${want:-2..}$ ]]; then
    echo "FAIL $method $path -> $code" >&2; cat /tmp/medisync-smoke.body >&2; echo >&2; exit 1
  fi
  echo "   $method $path -> $code" >&2
  cat /tmp/medisync-smoke.body
}
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

step "patient registers and logs in"
pemail="patient-$run@example.com"
call POST /api/v1/auth/register "" "{\"email\":\"$pemail\",\"password\":\"Smoke-test-passw0rd\",\"fullName\":\"Pat Smoke\"}" >/dev/null
ptoken=$(call POST /api/v1/auth/login "" "{\"email\":\"$pemail\",\"password\":\"Smoke-test-passw0rd\"}" | field '["accessToken"]')

step "patient creates their profile"
pid=$(call POST /api/v1/patients "$ptoken" '{"firstName":"Pat","lastName":"Smoke","dateOfBirth":"1990-01-31","sex":"unknown","phone":"+14155550123"}' | field '["id"]')
call GET /api/v1/patients/me "$ptoken" "" >/dev/null

step "admin creates a doctor account and a specialization"
atoken=$(call POST /api/v1/auth/login "" "{\"email\":\"$MEDISYNC_ADMIN_EMAIL\",\"password\":\"$MEDISYNC_ADMIN_PASSWORD\"}" | field '["accessToken"]')
demail="doctor-$run@example.com"
call POST /api/v1/auth/users "$atoken" "{\"email\":\"$demail\",\"password\":\"Doctor-smoke-passw0rd\",\"fullName\":\"Dee Smoke\",\"roles\":[\"DOCTOR\"]}" >/dev/null
sid=$(call POST /api/v1/specializations "$atoken" "{\"name\":\"Smoke medicine $run\"}" | field '["id"]')

step "doctor creates a profile and sets availability"
dtoken=$(call POST /api/v1/auth/login "" "{\"email\":\"$demail\",\"password\":\"Doctor-smoke-passw0rd\"}" | field '["accessToken"]')
did=$(call POST /api/v1/doctors "$dtoken" "{\"firstName\":\"Dee\",\"lastName\":\"Smoke\",\"email\":\"$demail\",\"licenseNumber\":\"SMK-$run\",\"specializationIds\":[\"$sid\"],\"languages\":[\"en\"],\"timeZone\":\"Europe/Berlin\",\"appointmentMinutes\":30}" | field '["id"]')
etag=$(curl -sS -o /dev/null -D - -H "Authorization: Bearer $dtoken" "$GW/api/v1/doctors/$did/availability" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
call PUT "/api/v1/doctors/$did/availability" "$dtoken" '{"slotMinutes":30,"bufferMinutes":0,"weekly":[{"day":"MONDAY","start":"09:00","end":"12:00"},{"day":"TUESDAY","start":"09:00","end":"12:00"},{"day":"WEDNESDAY","start":"09:00","end":"12:00"},{"day":"THURSDAY","start":"09:00","end":"12:00"},{"day":"FRIDAY","start":"09:00","end":"12:00"}],"exceptions":[]}' -H "If-Match: $etag" >/dev/null

step "patient lists the doctor's slots for the next week"
from=$(date -u -d tomorrow +%F); to=$(date -u -d '+7 days' +%F)
call GET "/api/v1/doctors/$did/slots?from=$from&to=$to" "$ptoken" "" >/tmp/medisync-smoke.slots
n=$(field '["slots"].__len__()' </tmp/medisync-smoke.slots)
echo "   $n bookable slots"

step "patient books a slot; it leaves the doctor's slots and joins their list"
# The first slot more than a day ahead: a patient may cancel it (24 h notice).
read -r start end < <(python3 -c '
import json, sys, datetime
later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=25)
for s in json.load(sys.stdin)["slots"]:
    if datetime.datetime.fromisoformat(s["start"].replace("Z", "+00:00")) > later:
        print(s["start"], s["end"]); break
' </tmp/medisync-smoke.slots)
[ -n "${start:-}" ] || { echo "FAIL no slot more than a day ahead" >&2; exit 1; }
aid=$(call POST /api/v1/appointments "$ptoken" "{\"doctorId\":\"$did\",\"start\":\"$start\",\"end\":\"$end\",\"reason\":\"Smoke check-up\"}" -H "Idempotency-Key: smoke-$run" | field '["id"]')
echo "   booked $aid at $start"
has_slot() { call GET "/api/v1/doctors/$did/slots?from=$from&to=$to" "$ptoken" "" | python3 -c 'import json,sys; sys.exit(0 if any(s["start"]==sys.argv[1] for s in json.load(sys.stdin)["slots"]) else 1)' "$start"; }
if has_slot; then echo "FAIL the booked slot $start is still offered" >&2; exit 1; fi
call GET /api/v1/appointments "$ptoken" "" | grep -q "$aid"

step "the doctor the patient booked records an allergy; the patient reads their history"
call POST "/api/v1/patients/$pid/history" "$dtoken" '{"type":"ALLERGY","description":"Penicillin","severity":"severe"}' >/dev/null
call GET "/api/v1/patients/$pid/history" "$ptoken" "" | grep -q Penicillin

step "another patient cannot take the same slot"
oemail="other-$run@example.com"
call POST /api/v1/auth/register "" "{\"email\":\"$oemail\",\"password\":\"Smoke-test-passw0rd\",\"fullName\":\"Otto Smoke\"}" >/dev/null
otoken=$(call POST /api/v1/auth/login "" "{\"email\":\"$oemail\",\"password\":\"Smoke-test-passw0rd\"}" | field '["accessToken"]')
call POST /api/v1/patients "$otoken" '{"firstName":"Otto","lastName":"Smoke","dateOfBirth":"1985-06-15","sex":"unknown","phone":"+14155550124"}' >/dev/null
want=409 call POST /api/v1/appointments "$otoken" "{\"doctorId\":\"$did\",\"start\":\"$start\",\"end\":\"$end\"}" >/dev/null

step "patient cancels; the slot is offered again"
call POST "/api/v1/appointments/$aid/cancel" "$ptoken" '{"cancellationReason":"patient-request"}' | grep -q '"cancelled"'
has_slot || { echo "FAIL the cancelled slot $start is not offered again" >&2; exit 1; }
want=403 call GET "/api/v1/patients/$pid/history" "$dtoken" "" >/dev/null

step "no token is a 401 problem"
want=401 call GET /api/v1/patients/me "" "" >/dev/null

echo
echo "smoke: the main story works through $GW"
