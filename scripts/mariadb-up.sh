#!/usr/bin/env bash
# Installs (when absent), starts and prepares a local MariaDB for medisync's
# MySQL adapters and tests. Safe to run again: every step is idempotent;
# runs started together take turns.
set -euo pipefail

# One run at a time: runs at once (CI, make run, a developer's tests) would
# start the server twice and change the same accounts together. A second run
# waits for the first. flock holds the lock and runs this script again
# without it open, so that the server started below does not keep it.
lock=/run/lock/medisync-mariadb-up.lock
if [ "${MEDISYNC_UP_LOCK:-}" != "$lock" ]; then
  mkdir -p "${lock%/*}"
  exec env MEDISYNC_UP_LOCK="$lock" flock -o "$lock" "$BASH" "$0" "$@"
fi

if [ ! -x /usr/sbin/mariadbd ]; then
  echo "mariadb-up: installing mariadb-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y mariadb-server
fi

mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld

# The thread pool serves all connections with a few threads per core
# instead of a thread per connection: each service pools up to 32
# connections, and on two cores fewer threads contend and switch (bookings/s
# +20% under scripts/load-appointment.sh). It is fixed when mariadbd starts.
#
# InnoDB's buffer pool holds the pages the services read and write. The
# package's 128 MB is smaller than one service's working set under load
# (100,000 appointments with their indexes and a week of outbox rows are
# about 300 MB), and InnoDB reads around the OS cache (O_DIRECT): a page
# evicted is a disk read inside a booking. MEDISYNC_MARIADB_BUFFER_POOL
# sizes it (bytes, or with K, M or G).
pool=${MEDISYNC_MARIADB_BUFFER_POOL:-1G}
if [[ ! "$pool" =~ ^[0-9]+[KMG]?$ ]]; then
  echo "mariadb-up: MEDISYNC_MARIADB_BUFFER_POOL must be a size such as 1G or 512M, not '$pool'" >&2
  exit 1
fi

# Each service pools up to 32 connections (shared/sqldb): the six with a
# database may hold 192, above MariaDB's default limit of 151, and tests
# open theirs beside them.
max_connections=256

started=0
if ! mysqladmin ping --silent >/dev/null 2>&1; then
  started=1
  echo "mariadb-up: starting mariadbd"
  # The pid file, not the executable alone, tells whether this server runs:
  # another mariadbd on this machine (a second datadir and port) is not it.
  start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid \
    --exec /usr/sbin/mariadbd -- --user=mysql --pid-file=/run/mysqld/mysqld.pid \
    --innodb-buffer-pool-size="$pool" --thread-handling=pool-of-threads --max-connections="$max_connections"
fi

for _ in $(seq 1 60); do
  mysqladmin ping --silent >/dev/null 2>&1 && break
  sleep 1
done
if ! mysqladmin ping --silent >/dev/null 2>&1; then
  echo "mariadb-up: mariadbd did not answer within 60s" >&2
  exit 1
fi

# A test drops its scratch database when it ends; a test run that was killed
# leaves them. Just started, the server serves no test: sweep them.
if [ "$started" = 1 ]; then
  mysql --protocol=socket -uroot -N -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'medisync\\_test\\_%'" |
    while read -r db; do mysql --protocol=socket -uroot -e "DROP DATABASE \`$db\`"; done
fi

# The accounts, one pair per service of services.txt with a database:
#   medisync_<svc>_owner  ALL on medisync_<svc>_db: applies the migrations
#                         (MEDISYNC_DB_MIGRATE_DSN);
#   medisync_<svc>        SELECT, INSERT, UPDATE, DELETE on it alone: what the
#                         service serves with (MEDISYNC_DB_DSN), so it can
#                         neither change the schema nor drop the audit triggers.
# and for the tests:
#   medisync              ALL on the scratch databases only: medisync_test_*
#                         (sqltest), with GRANT OPTION so a test can hand its
#                         own database to the runtime account below, and
#                         medisync_*_load* (the load tools);
#   medisync_test_runtime no right of its own; each MySQL test grants it the
#                         runtime rights on its database (sqltest.RuntimeUser).
# Development passwords: every password is the account's name. That is
# acceptable only because these accounts exist for 127.0.0.1 and localhost
# alone, on a development or CI machine; a deployment sets its own
# (docker/.env.example).
hosts=(127.0.0.1 localhost)
sql=""
account() { # name: the account on every local host, password = name
  local h
  for h in "${hosts[@]}"; do
    sql+="CREATE USER IF NOT EXISTS '$1'@'$h' IDENTIFIED BY '$1';"$'\n'
  done
}
grant() { # privileges, database pattern, account[, WITH GRANT OPTION]
  local h
  for h in "${hosts[@]}"; do
    sql+="GRANT $1 ON \`$2\`.* TO '$3'@'$h'${4:+ $4};"$'\n'
  done
}

account medisync
grant ALL 'medisync\_test\_%' medisync 'WITH GRANT OPTION'
grant ALL 'medisync\_%\_load%' medisync
account medisync_test_runtime

while read -r name _ db _; do
  case "$name" in ''|'#'*) continue ;; esac
  [ "$db" = "-" ] && continue
  if [[ ! "$name" =~ ^[a-z][a-z0-9]*$ || ! "$db" =~ ^[a-z][a-z0-9_]*$ ]]; then
    echo "mariadb-up: services.txt: unexpected name or database: $name $db" >&2
    exit 1
  fi
  sql+="CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"$'\n'
  # In a GRANT, _ is a wildcard: escaped, the grant names this database alone.
  pattern=${db//_/\\_}
  account "medisync_${name}_owner"
  grant ALL "$pattern" "medisync_${name}_owner"
  account "medisync_${name}"
  grant 'SELECT, INSERT, UPDATE, DELETE' "$pattern" "medisync_${name}"
done < "$(dirname "$0")/../services.txt"

# Earlier versions of this script gave medisync ALL on every medisync_*
# database; GRANT only adds, so that grant is taken back explicitly.
for h in "${hosts[@]}"; do
  if [ -n "$(mysql --protocol=socket -uroot -N -e "SELECT 1 FROM mysql.db WHERE User = 'medisync' AND Host = '$h' AND Db = 'medisync\\\\_%'")" ]; then
    sql+="REVOKE ALL PRIVILEGES ON \`medisync\\_%\`.* FROM 'medisync'@'$h';"$'\n'
  fi
done

# Root logs in over the socket only (Debian's unix_socket auth); everything
# else logs in over TCP with the accounts above.
# A server already running (started earlier, or by another script) gets the
# size asked for by name, or at least the default; InnoDB resizes its pool
# online. A larger pool someone gave it is left alone unless asked.
bytes=$(numfmt --from=iec "$pool")
if [ -n "${MEDISYNC_MARIADB_BUFFER_POOL:-}" ]; then
  sql+="SET GLOBAL innodb_buffer_pool_size = $bytes;"$'\n'
elif [ "$(mysql --protocol=socket -uroot -N -e 'SELECT @@innodb_buffer_pool_size')" -lt "$bytes" ]; then
  sql+="SET GLOBAL innodb_buffer_pool_size = $bytes;"$'\n'
fi

# Likewise the connection limit, which takes effect for new connections: a
# higher one someone gave the server is left alone.
if [ "$(mysql --protocol=socket -uroot -N -e 'SELECT @@max_connections')" -lt "$max_connections" ]; then
  sql+="SET GLOBAL max_connections = $max_connections;"$'\n'
fi

mysql --protocol=socket -uroot <<<"$sql"
if [ "$(mysql --protocol=socket -uroot -N -e 'SELECT @@thread_handling')" != "pool-of-threads" ]; then
  echo "mariadb-up: note: this server was started without the thread pool; restart it through this script to have it"
fi
echo "mariadb-up: MariaDB ready on 127.0.0.1:3306 (accounts medisync_<svc> and medisync_<svc>_owner per service, medisync for the tests)"
