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
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
fi

for _ in $(seq 1 60); do
  mysqladmin ping --silent >/dev/null 2>&1 && break
  sleep 1
done
if ! mysqladmin ping --silent >/dev/null 2>&1; then
  echo "mariadb-up: mariadbd did not answer within 60s" >&2
  exit 1
fi

# Root logs in over the socket only (Debian's unix_socket auth); the tests use
# the medisync user over TCP.
mysql --protocol=socket -uroot <<'SQL'
CREATE USER IF NOT EXISTS 'medisync'@'127.0.0.1' IDENTIFIED BY 'medisync';
CREATE USER IF NOT EXISTS 'medisync'@'localhost' IDENTIFIED BY 'medisync';
GRANT ALL ON `medisync\_%`.* TO 'medisync'@'127.0.0.1';
GRANT ALL ON `medisync\_%`.* TO 'medisync'@'localhost';
CREATE DATABASE IF NOT EXISTS medisync_auth_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS medisync_doctor_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS medisync_patient_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
FLUSH PRIVILEGES;
SQL
echo "mariadb-up: MariaDB ready on 127.0.0.1:3306 (user medisync)"
