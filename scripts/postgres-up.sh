#!/usr/bin/env bash
# Installs (when absent), starts and prepares a local PostgreSQL 15 for
# medisync's PostgreSQL adapters and tests: a cluster of its own in
# /var/lib/medisync-postgres, listening on 127.0.0.1:5432 only. Safe to run
# again, and with the cluster already running: every step is idempotent;
# runs started together take turns.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
base=/var/lib/medisync-postgres
data=$base/data
sock=$base/run
port=5432

# One run at a time: runs at once (CI, make run, a developer's tests) would
# grant on the same roles together, and PostgreSQL refuses all but one with
# "tuple concurrently updated". A second run waits for the first. flock
# holds the lock and runs this script again without it open, so that the
# server started below does not keep it.
lock=$base/up.lock
if [ "${MEDISYNC_UP_LOCK:-}" != "$lock" ]; then
  mkdir -p "$base"
  exec env MEDISYNC_UP_LOCK="$lock" flock -o "$lock" "$BASH" "$0" "$@"
fi

if [ ! -x "$bin/postgres" ]; then
  echo "postgres-up: installing postgresql-15"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y postgresql-15 postgresql-client-15
fi

as_postgres() { runuser -u postgres -- "$@"; }
ours_running() { [ -f "$data/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

mkdir -p "$base" "$sock" "$base/log"
chown postgres:postgres "$base" "$sock" "$base/log"
chmod 0750 "$base"

if [ ! -f "$data/PG_VERSION" ]; then
  echo "postgres-up: creating the cluster in $data"
  # The superuser postgres logs in over the unix socket only, as the postgres
  # system user (peer); every other role logs in over TCP with a password.
  as_postgres "$bin/initdb" -D "$data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
fi

max_connections=256
started=0
if ! ours_running; then
  started=1
  # Debian's own cluster, when installed and started, holds the port: stop it
  # (it stays installed; `pg_ctlcluster 15 main start` brings it back).
  if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | awk -v p=$port '$3 == p && $4 == "online"' | grep -q .; then
    read -r ver name _ < <(pg_lsclusters -h | awk -v p=$port '$3 == p && $4 == "online"' | head -1)
    echo "postgres-up: stopping Debian's cluster $ver/$name, which holds port $port"
    pg_ctlcluster "$ver" "$name" stop
  fi
  if ss -ltnH "( sport = :$port )" | grep -q .; then
    echo "postgres-up: something else listens on port $port:" >&2
    ss -ltnpH "( sport = :$port )" >&2
    exit 1
  fi
  echo "postgres-up: starting PostgreSQL on 127.0.0.1:$port"
  # 256 connections: six services pooling 32 each may hold 192 (the
  # default, 100, would refuse them under load).
  as_postgres "$bin/pg_ctl" -D "$data" -l "$base/log/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $sock -c max_connections=$max_connections" start >/dev/null
fi

for _ in $(seq 1 60); do
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done
if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  echo "postgres-up: PostgreSQL did not answer within 60s (see $base/log/postgres.log)" >&2
  exit 1
fi

psql_as_postgres() { # database; SQL on stdin
  as_postgres "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -d "$1"
}

# A test drops its scratch database when it ends; a test run that was killed
# leaves them. Just started, the server serves no test: sweep them.
if [ "$started" = 1 ]; then
  echo "SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database WHERE datname LIKE 'medisync\_test\_%' \gexec" |
    psql_as_postgres postgres
fi

# The roles, one pair per service of services.txt with a database:
#   medisync_<svc>_owner  owns medisync_<svc>_db and its schema: applies the
#                         migrations (MEDISYNC_DB_MIGRATE_DSN);
#   medisync_<svc>        CONNECT on it, and through default privileges of the
#                         owner SELECT, INSERT, UPDATE, DELETE on its tables and
#                         USAGE on its sequences: what the service serves with
#                         (MEDISYNC_DB_DSN), no DDL;
# and for the tests:
#   medisync              CREATEDB: creates and owns the scratch databases
#                         (medisync_test_*, sqltest; medisync_*_load*, the load
#                         tools), so it may grant on their tables;
#   medisync_test_runtime no right of its own; each PostgreSQL test grants it
#                         the runtime rights on its database (sqltest).
# Development passwords: every password is the role's name. That is acceptable
# only because the server listens on 127.0.0.1 alone, on a development or CI
# machine; a deployment sets its own.
role() { # name[, attributes]
  cat <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$1') THEN
    CREATE ROLE $1;
  END IF;
END \$\$;
ALTER ROLE $1 WITH LOGIN ${2:-} PASSWORD '$1';
SQL
}

{
  role medisync CREATEDB
  role medisync_test_runtime
} | psql_as_postgres postgres

# The append-only tables (audit trails, revisions, addenda): their
# migrations take UPDATE, DELETE and TRUNCATE back from every role but the
# owner.
append_only="'audit_events', 'history_revisions', 'encounter_revisions', 'encounter_addenda'"
while read -r name _ db _; do
  case "$name" in ''|'#'*) continue ;; esac
  [ "$db" = "-" ] && continue
  if [[ ! "$name" =~ ^[a-z][a-z0-9]*$ || ! "$db" =~ ^[a-z][a-z0-9_]*$ ]]; then
    echo "postgres-up: services.txt: unexpected name or database: $name $db" >&2
    exit 1
  fi
  owner="medisync_${name}_owner"
  runtime="medisync_${name}"
  {
    role "$owner"
    role "$runtime"
    echo "SELECT 'CREATE DATABASE $db OWNER $owner ENCODING ''UTF8''' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \\gexec"
    echo "ALTER DATABASE $db OWNER TO $owner;"
    # No CONNECT or TEMP for every role, as PostgreSQL grants by default.
    echo "REVOKE ALL ON DATABASE $db FROM PUBLIC;"
    echo "GRANT CONNECT ON DATABASE $db TO $runtime;"
  } | psql_as_postgres postgres
  # Default privileges are per database: set inside it. The grants on what
  # exists already cover tables created before this script first ran.
  psql_as_postgres "$db" <<SQL
GRANT USAGE ON SCHEMA public TO $runtime;
ALTER DEFAULT PRIVILEGES FOR ROLE $owner IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO $runtime;
ALTER DEFAULT PRIVILEGES FOR ROLE $owner IN SCHEMA public GRANT USAGE ON SEQUENCES TO $runtime;
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO $runtime;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO $runtime;
-- UPDATE and DELETE on every table but the append-only ones, from which
-- the migrations took them back: a second run must not give them again,
-- and takes back what an earlier version of this script gave.
DO \$\$
DECLARE t record;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public'
      AND tablename NOT IN ($append_only) LOOP
    EXECUTE format('GRANT UPDATE, DELETE ON %I TO %I', t.tablename, '$runtime');
  END LOOP;
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public'
      AND tablename IN ($append_only) LOOP
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM %I', t.tablename, '$runtime');
  END LOOP;
END
\$\$;
SQL
done < "$(dirname "$0")/../services.txt"

echo "postgres-up: PostgreSQL ready on 127.0.0.1:$port (roles medisync_<svc> and medisync_<svc>_owner per service, medisync for the tests)"
