#!/usr/bin/env bash
# ApplicationStop: stop the running service, found by its pid file. Safe when nothing
# runs (no pid file, or a stale one). CodeDeploy runs this hook from the revision that
# was deployed last, and skips it on an instance's first deployment.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# How long the service gets to finish its requests after SIGTERM before SIGKILL.
STOP_GRACE_SECONDS=15

pid="$(recorded_pid)"
if [[ -z "$pid" ]]; then
  log "No pid file at ${PID_FILE}: the service is not running."
  exit 0
fi
if ! is_app_process "$pid"; then
  log "Pid file names ${pid}, which is not a running my-app server; removing the stale file."
  rm -f "$PID_FILE"
  exit 0
fi

log "Stopping my-app (pid ${pid}) with SIGTERM."
kill -TERM "$pid" 2>/dev/null || true
for ((i = 0; i < STOP_GRACE_SECONDS * 5; i++)); do
  if ! is_app_process "$pid"; then
    rm -f "$PID_FILE"
    log "my-app stopped."
    exit 0
  fi
  sleep 0.2
done

log "my-app did not stop within ${STOP_GRACE_SECONDS}s; sending SIGKILL."
kill -KILL "$pid" 2>/dev/null || true
for ((i = 0; i < 25; i++)); do
  if ! is_app_process "$pid"; then
    rm -f "$PID_FILE"
    log "my-app killed."
    exit 0
  fi
  sleep 0.2
done
fail "my-app (pid ${pid}) is still running after SIGKILL."
