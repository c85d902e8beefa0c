#!/usr/bin/env bash
# Installs (when absent), starts and prepares a local MariaDB for medisync's
# MySQL adapters and tests. Safe to run again: every step is idempotent.
set -euo pipefail

if [ ! -x /usr/sbin/mariadbd ]; then
  echo "mariadb-up: installing mariadb-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y mariadb-server
fi

mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld

if ! mysqladmin ping --silent >/dev/null 2>&1; then
  echo "mariadb-up: starting mariadbd"
  # The pid file, not the executable alone, tells whether this server runs:
  # another mariadbd on this machine (a second datadir and port) is not it.
  start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid \
    --exec /usr/sbin/mariadbd -- --user=mysql --pid-file=/run/mysqld/mysqld.pid
fi

for _ in $(seq 1 60); do
  mysqladmin ping --silent >/dev/null 2>&1 && break
  sleep 1
done
if ! mysqladmin ping --silent >/dev/null 2>&1; then
  echo "mariadb-up: mariadbd did not answer within 60s" >&2
  exit 1
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
mysql --protocol=socket -uroot <<<"$sql"
echo "mariadb-up: MariaDB ready on 127.0.0.1:3306 (accounts medisync_<svc> and medisync_<svc>_owner per service, medisync for the tests)"
