#!/usr/bin/env bash
# ApplicationStart: start the service in the background and return. ValidateService,
# not this hook, waits for it to answer.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cd "$APP_DIR"
command -v node >/dev/null 2>&1 || fail "node is not on PATH (${PATH}); BeforeInstall should have installed Node.js."

# ApplicationStop is skipped on a first deployment and after a failed one, so a server
# started by hand or by a failed deployment may still hold the port.
old_pid="$(recorded_pid)"
if [[ -n "$old_pid" ]] && is_app_process "$old_pid"; then
  log "my-app is already running (pid ${old_pid}); stopping it first."
  "$(dirname "${BASH_SOURCE[0]}")/stop_server.sh"
fi

log "Starting my-app on port ${PORT}; log in ${LOG_FILE}."
# All three standard streams are redirected: CodeDeploy reads the hook's output until
# every process holding it has closed it, so a server that kept them would make this
# hook hang until its timeout. nohup keeps it alive when the hook's session ends.
NODE_ENV=production nohup node server.js >> "$LOG_FILE" 2>&1 < /dev/null &
echo "$!" > "$PID_FILE"
log "Started my-app (pid $(cat "$PID_FILE"))."
