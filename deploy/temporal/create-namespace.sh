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
