# shellcheck shell=bash
# Creates two accounts for every service of services.txt with a database, on
# the first start of docker-compose.yml's MariaDB (an empty data volume):
#   medisync_<svc>_owner  ALL on medisync_<svc>_db; applies the migrations
#                         (password MEDISYNC_<SVC>_DB_OWNER_PASSWORD);
#   medisync_<svc>        SELECT, INSERT, UPDATE, DELETE on it alone; serves
#                         (password MEDISYNC_<SVC>_DB_PASSWORD).
# The passwords come from the environment (docker/.env); a missing one stops
# the initialisation. The image's entrypoint sources this file (it is not
# executable), which provides docker_process_sql. A data volume initialised
# before keeps the accounts it has: remove it, or create these by hand.

medisync_sql_string() { # a value as a SQL string literal
  local v=${1//\\/\\\\}
  printf "'%s'" "${v//\'/\'\'}"
}

medisync_accounts=""
while read -r name _ db _; do
  case "$name" in '' | '#'*) continue ;; esac
  [ "$db" = "-" ] && continue
  if [[ ! "$name" =~ ^[a-z][a-z0-9]*$ || ! "$db" =~ ^[a-z][a-z0-9_]*$ ]]; then
    echo "mariadb-init: services.txt: unexpected name or database: $name $db" >&2
    exit 1
  fi
  svc=${name^^}
  owner_var=MEDISYNC_${svc}_DB_OWNER_PASSWORD
  runtime_var=MEDISYNC_${svc}_DB_PASSWORD
  for v in "$owner_var" "$runtime_var"; do
    if [ -z "${!v:-}" ]; then
      echo "mariadb-init: $v is not set (docker/.env)" >&2
      exit 1
    fi
  done
  # In a GRANT, _ is a wildcard: escaped, the grant names this database alone.
  pattern=${db//_/\\_}
  medisync_accounts+="CREATE USER IF NOT EXISTS 'medisync_${name}_owner'@'%' IDENTIFIED BY $(medisync_sql_string "${!owner_var}");
GRANT ALL ON \`$pattern\`.* TO 'medisync_${name}_owner'@'%';
CREATE USER IF NOT EXISTS 'medisync_${name}'@'%' IDENTIFIED BY $(medisync_sql_string "${!runtime_var}");
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$pattern\`.* TO 'medisync_${name}'@'%';
"
done <"${MEDISYNC_SERVICES_FILE:-/etc/medisync/services.txt}"

docker_process_sql --database=mysql <<<"$medisync_accounts"
unset medisync_accounts
