#!/bin/sh
# Creates Temporal's two databases in PostgreSQL (once) and brings their schemas up to the version
# of the admin-tools image (every time): safe to run on each `docker compose up`. Runs in
# temporalio/admin-tools, the same steps as the official compose samples; the topology test
# (test/topology) runs it as is, with the same release's temporal-sql-tool and SCHEMA_ROOT.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS (the PostgreSQL host) is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD (the password of POSTGRES_USER) is required}"
PORT="${DB_PORT:-5432}"
# Where the release's PostgreSQL schemas are (the admin-tools image keeps them here).
SCHEMA_ROOT="${SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"

echo "Waiting for PostgreSQL at ${POSTGRES_SEEDS}:${PORT}..."
attempt=1
until nc -z -w 5 "${POSTGRES_SEEDS}" "${PORT}"; do
  if [ "${attempt}" -ge 60 ]; then
    echo "PostgreSQL at ${POSTGRES_SEEDS}:${PORT} is not reachable" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "${POSTGRES_SEEDS}" -p "${PORT}" -u "${POSTGRES_USER}" "$@"
}

setup() {
  database="$1"
  schema="$2"
  echo "Temporal database ${database}: create, set up and update the ${schema} schema"
  # An existing database is fine; any other failure to create it shows in the next step, which
  # cannot connect to a database that does not exist.
  if [ "${SKIP_DB_CREATE:-false}" != true ]; then
    sql_tool --db "${database}" create || echo "Temporal database ${database} not created (it may exist already)"
  fi
  sql_tool --db "${database}" setup-schema -v 0.0
  sql_tool --db "${database}" update-schema -d "${SCHEMA_ROOT}/${schema}/versioned"
}

setup "${DBNAME:-temporal}" temporal
setup "${VISIBILITY_DBNAME:-temporal_visibility}" visibility
echo "Temporal schema is up to date"
