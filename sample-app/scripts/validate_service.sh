#!/usr/bin/env bash
# ValidateService: the deployment succeeds only if the service answers GET /health with
# 200 and "status":"healthy". Polls a bounded number of times, and fails early, with the
# server's last log lines, if the process has died.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# 80 tries a quarter second apart: node answers within a second of starting, so a short
# interval ends the hook soon after; 20 s of waiting (plus up to 2 s per request) still
# fits inside the 90-second timeout appspec.yml gives this hook. Both can be overridden.
ATTEMPTS="${VALIDATE_ATTEMPTS:-80}"
INTERVAL="${VALIDATE_INTERVAL:-0.25}"
URL="http://127.0.0.1:${PORT}/health"

show_log_tail() {
  if [[ -f "$LOG_FILE" ]]; then
    echo "--- last lines of ${LOG_FILE} ---" >&2
    tail -n 20 "$LOG_FILE" >&2
    echo "---" >&2
  fi
}

# Prints "<http status> <body>"; status 000 when nothing answered.
check_health() {
  if command -v curl >/dev/null 2>&1; then
    local body_file code
    body_file="$(mktemp)"
    code="$(curl -s -o "$body_file" -w '%{http_code}' --max-time 2 "$URL" || true)"
    echo "${code:-000} $(tr -d '\n' < "$body_file")"
    rm -f "$body_file"
  else
    # shellcheck disable=SC2016  # JavaScript, not shell, in single quotes
    node -e '
      fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
        .then(async (res) => console.log(`${res.status} ${(await res.text()).replace(/\n/g, "")}`))
        .catch(() => console.log("000 "));
    ' "$URL"
  fi
}

pid="$(recorded_pid)"
[[ -n "$pid" ]] || fail "No pid file at ${PID_FILE}: ApplicationStart did not start the service."

last=""
for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
  if ! is_app_process "$pid"; then
    show_log_tail
    fail "my-app (pid ${pid}) is not running: it exited after starting. See the log above."
  fi
  last="$(check_health)"
  code="${last%% *}"
  body="${last#* }"
  if [[ "$code" == "200" && "$body" =~ \"status\":\"healthy\" ]]; then
    log "my-app is healthy on attempt ${attempt}: ${body}"
    exit 0
  fi
  if [[ "$code" == "000" ]]; then
    log "Attempt ${attempt}/${ATTEMPTS}: no answer from ${URL} yet."
  else
    log "Attempt ${attempt}/${ATTEMPTS}: ${URL} answered ${code}: ${body}"
  fi
  if ((attempt < ATTEMPTS)); then
    sleep "$INTERVAL"
  fi
done

show_log_tail
if [[ "${last%% *}" == "000" ]]; then
  fail "my-app never answered ${URL} after ${ATTEMPTS} attempts."
fi
fail "my-app is not healthy after ${ATTEMPTS} attempts: ${URL} last answered ${last%% *}: ${last#* }"
