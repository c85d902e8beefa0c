#!/usr/bin/env bash
# Side-by-side speed of the services on MariaDB and on PostgreSQL, both on
# 127.0.0.1: for each database and each load command in LOADS it creates a
# fresh database, runs the command (which seeds it and starts the service
# binary against it), and finally prints one table of req/s, p50 and p99 per
# measurement and database. A load command runs on PostgreSQL when its -h
# lists a -postgres or -postgres-server flag (a postgres:// server URL; the
# command creates -database there); otherwise its PostgreSQL column reads
# "n/a". Database names end in _load_cmp: the local MariaDB lets the medisync
# user create medisync_*_load* databases. Raw outputs stay in the folder printed at the end.
#
# Adding a measurement: write a function load_<name> DIALECT FLAG SERVER OUT
# that runs the command with its output in OUT and prints lines
# "label<TAB>req/s<TAB>p50 ms<TAB>p99 ms", then add <name> to LOADS. The
# appointment load command (appointment/cmd/appointment-load) gives
# bookings/s, the patient's list with 100,000 stored, a doctor's day and
# cancellations.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

LOADS=(patient doctor)
[ -d appointment/cmd/appointment-load ] && LOADS+=(appointment)
MYSQL_SERVER=${MYSQL_SERVER:-medisync:medisync@tcp(127.0.0.1:3306)/}
POSTGRES_SERVER=${POSTGRES_SERVER:-postgres://medisync:medisync@127.0.0.1:5432/postgres?sslmode=disable}
out=$(mktemp -d /tmp/medisync-load-databases.XXXXXX)

bash scripts/mariadb-up.sh >/dev/null
bash scripts/postgres-up.sh >/dev/null
mkdir -p bin
(cd patient && go build -o ../bin/patient ./cmd/patient && go build -o ../bin/patient-load ./cmd/patient-load)
(cd doctor && go build -o ../bin/doctor ./cmd/doctor && go build -o ../bin/doctor-load ./cmd/doctor-load)
if [[ " ${LOADS[*]} " == *" appointment "* ]]; then
  (cd appointment && go build -o ../bin/appointment ./cmd/appointment && go build -o ../bin/appointment-load ./cmd/appointment-load)
fi

psql_bin=$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)

# fresh_db DIALECT NAME drops the database NAME so the command starts empty.
fresh_db() {
  case $1 in
    mariadb) mysql -h 127.0.0.1 -P 3306 -umedisync -pmedisync -e "DROP DATABASE IF EXISTS \`$2\`" ;;
    postgres) PGOPTIONS="-c client_min_messages=warning" "$psql_bin" -q "$POSTGRES_SERVER" -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)" ;;
  esac
}

# server_flag CMD DIALECT prints the flag CMD takes the server with on
# DIALECT (mysql_flag is its MariaDB one), or nothing when it has none.
server_flag() {
  local cmd=$1 dialect=$2 mysql_flag=$3
  if [ "$dialect" = mariadb ]; then echo "$mysql_flag"; return; fi
  help_flag "$cmd" -postgres-server -postgres
}

# summary_line LABEL reads a loadkit report line ("... R req/s  p50 X p90 Y
# p99 Z max W") on stdin and prints LABEL, req/s, p50 ms and p99 ms.
summary_line() {
  awk -v label="$1" '
    function ms(v) { if (v ~ /µs$/) return sprintf("%.2f", v / 1000); if (v ~ /ms$/) return sprintf("%.2f", v + 0); if (v ~ /s$/) return sprintf("%.2f", v * 1000); return v }
    { for (i = 1; i <= NF; i++) { if ($i == "req/s") r = $(i-1); if ($i == "p50") p50 = $(i+1); if ($i == "p99") p99 = $(i+1) } }
    END { if (r != "") printf "%s\t%s\t%s\t%s\n", label, r, ms(p50), ms(p99) }'
}

load_patient() {
  local dialect=$1 flag=$2 server=$3 log=$4 db=medisync_patient_load_cmp
  fresh_db "$dialect" "$db"
  bin/patient-load -bin bin/patient "$flag" "$server" -database "$db" >"$log" 2>&1
  grep 'GET /api/v1/patients/{id}' "$log" | summary_line "patient GET by id (100,000 patients)"
  grep 'GET /api/v1/patients?q=' "$log" | summary_line "patient search (100,000 patients)"
}

load_doctor() {
  local dialect=$1 flag=$2 server=$3 log=$4 db=medisync_doctor_load_cmp
  fresh_db "$dialect" "$db"
  bin/doctor-load -doctor-bin bin/doctor "$flag" "$server" -database "$db" >"$log" 2>&1
  local rps; rps=$(sed -n 's/.*(\([0-9.]*\) req\/s).*/\1/p' "$log" | tail -1)
  awk -v rps="$rps" '$1 == "ALL" { printf "doctor search (10,000 doctors)\t%s\t%s\t%s\n", rps, $3, $5 }' "$log"
}

# help_flag CMD FLAG... prints the first FLAG that CMD's -h lists.
help_flag() {
  local cmd=$1 help; shift
  help=$("$cmd" -h 2>&1 || true)
  for f in "$@"; do
    if grep -qE -- "^[[:space:]]*$f([[:space:]]|$)" <<<"$help"; then echo "$f"; return; fi
  done
}

# load_appointment runs the appointment load command (100,000 bookings in
# distinct slots, then lists, a doctor's day and cancellations with them all
# stored) and turns each loadkit report line it prints ("book N requests ...
# R req/s  p50 ...") into a row: bookings/s first, then the patient's list.
load_appointment() {
  local dialect=$1 flag=$2 server=$3 log=$4 db=medisync_appointment_load_cmp
  local bin_flag; bin_flag=$(help_flag bin/appointment-load -appointment-bin -bin)
  fresh_db "$dialect" "$db"
  bin/appointment-load ${bin_flag:+"$bin_flag" bin/appointment} "$flag" "$server" -database "$db" >"$log" 2>&1
  grep -E ' req/s +p50 ' "$log" | while IFS= read -r line; do
    phase=$(awk '{ l = ""; for (i = 1; i <= NF && $i !~ /^[0-9]+$/; i++) l = l (l == "" ? "" : " ") $i; print l }' <<<"$line")
    case $phase in
      book) label="appointment booking (100,000, 16 clients)" ;;
      list) label="appointment patient list (100,000 stored)" ;;
      day) label="appointment doctor's day" ;;
      cancel) label="appointment cancel" ;;
      *) label="appointment $phase" ;;
    esac
    summary_line "$label" <<<"$line"
  done
}

declare -A mysql_flags=([patient]=-mysql [doctor]=-mysql-server)
[[ " ${LOADS[*]} " == *" appointment "* ]] && mysql_flags[appointment]=$(help_flag bin/appointment-load -mysql-server -mysql)
declare -A bins=([patient]=bin/patient-load [doctor]=bin/doctor-load)
declare -A result
labels=()
for dialect in mariadb postgres; do
  server=$MYSQL_SERVER
  [ "$dialect" = postgres ] && server=$POSTGRES_SERVER
  for load in "${LOADS[@]}"; do
    flag=$(server_flag "${bins[$load]:-bin/$load-load}" "$dialect" "${mysql_flags[$load]:--mysql}")
    if [ -z "$flag" ]; then
      echo "load-databases: $load on $dialect: n/a (${bins[$load]:-bin/$load-load} takes no PostgreSQL server flag)" >&2
      continue
    fi
    echo "load-databases: $load on $dialect..." >&2
    if ! lines=$("load_$load" "$dialect" "$flag" "$server" "$out/$load-$dialect.log"); then
      echo "load-databases: $load on $dialect failed (see $out/$load-$dialect.log)" >&2
      continue
    fi
    while IFS=$'\t' read -r label rps p50 p99; do
      [ -n "$label" ] || continue
      [[ " ${labels[*]-} " == *" $label "* ]] || labels+=("$label")
      result["$label|$dialect"]="$rps|$p50|$p99"
    done <<<"$lines"
  done
done

# Labels hold spaces: keep them in a newline-separated list for the table.
printf '\n%-40s %30s   %30s\n' "" "MariaDB" "PostgreSQL"
printf '%-40s %10s %9s %9s   %10s %9s %9s\n' "measurement" "req/s" "p50 ms" "p99 ms" "req/s" "p50 ms" "p99 ms"
for label in "${labels[@]}"; do
  IFS='|' read -r mr mp50 mp99 <<<"${result["$label|mariadb"]:-n/a|n/a|n/a}"
  IFS='|' read -r pr pp50 pp99 <<<"${result["$label|postgres"]:-n/a|n/a|n/a}"
  printf '%-40s %10s %9s %9s   %10s %9s %9s\n' "$label" "$mr" "$mp50" "$mp99" "$pr" "$pp50" "$pp99"
done
echo
echo "raw outputs: $out"
