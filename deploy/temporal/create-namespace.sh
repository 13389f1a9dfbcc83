#!/bin/sh
# Registers the application's Temporal namespace once the server answers (the plain server image,
# unlike the dev server, starts without one). Safe to run on each `docker compose up`.
set -eu

NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
ADDRESS="${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS (host:port of the frontend) is required}"
RETENTION="${TEMPORAL_RETENTION:-30d}"

attempt=1
until temporal operator cluster health --address "${ADDRESS}" >/dev/null 2>&1; do
  if [ "${attempt}" -ge 60 ]; then
    echo "Temporal at ${ADDRESS} did not become healthy" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

if temporal operator namespace describe --namespace "${NAMESPACE}" --address "${ADDRESS}" >/dev/null 2>&1; then
  echo "Namespace ${NAMESPACE} exists"
else
  temporal operator namespace create --namespace "${NAMESPACE}" --retention "${RETENTION}" --address "${ADDRESS}"
  echo "Namespace ${NAMESPACE} created (retention ${RETENTION})"
fi

# The health check says SERVING before the server can serve a namespace, and the API and workers
# start when this job ends: it ends once a call in the namespace succeeds (a visibility list, which
# needs the namespace known to the frontend and its visibility store ready).
attempt=1
until temporal workflow list --namespace "${NAMESPACE}" --limit 1 --address "${ADDRESS}" >/dev/null 2>&1; do
  if [ "${attempt}" -ge 60 ]; then
    echo "Namespace ${NAMESPACE} at ${ADDRESS} did not become usable" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 1
done
echo "Namespace ${NAMESPACE} is usable"

# The task search attributes (SPEC §15): every run a schedule or a trigger starts carries TaskId and
# TaskName, and Temporal refuses a start whose attributes the namespace lacks. The API registers
# them too when they are missing (if it may); here they are in place before it starts.
for attribute in TaskId TaskName; do
  if temporal operator search-attribute list --namespace "${NAMESPACE}" --address "${ADDRESS}" |
    grep -Eq "^[[:space:]]*${attribute}[[:space:]]"; then
    echo "Search attribute ${attribute} exists"
  else
    temporal operator search-attribute create --namespace "${NAMESPACE}" --address "${ADDRESS}" \
      --name "${attribute}" --type Keyword
    echo "Search attribute ${attribute} registered"
  fi
done

# Ends once a query by them is accepted: the frontend knows them, so the first start succeeds.
attempt=1
until temporal workflow list --namespace "${NAMESPACE}" --query 'TaskId = "" AND TaskName = ""' \
  --limit 1 --address "${ADDRESS}" >/dev/null 2>&1; do
  if [ "${attempt}" -ge 60 ]; then
    echo "Search attributes TaskId and TaskName of ${NAMESPACE} did not become usable" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 1
done
echo "Search attributes TaskId and TaskName are usable"
