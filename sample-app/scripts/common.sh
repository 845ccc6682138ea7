# Shared by the CodeDeploy hook scripts; sourced, never run on its own.
#
# CodeDeploy runs the hooks from the unpacked revision (its deployment-archive folder),
# not from where the files were installed, so the installed app is found by its fixed
# path. LABKIT_HOST_ROOT is set only by labkit's local emulator, where a folder stands
# for the instance's root file system; on a real EC2 instance it is unset and the
# path is the real /home/ec2-user/my-app.

# shellcheck disable=SC2034  # the variables are for the scripts that source this file
APP_DIR="${LABKIT_HOST_ROOT:-}/home/ec2-user/my-app"
APP_USER="ec2-user"
PORT="${PORT:-3000}"
PID_FILE="${APP_DIR}/app.pid"
LOG_FILE="${APP_DIR}/app.log"
export PORT

log() {
  echo "[${LIFECYCLE_EVENT:-$(basename "$0")}] $*"
}

fail() {
  echo "[${LIFECYCLE_EVENT:-$(basename "$0")}] ERROR: $*" >&2
  exit 1
}

# True when PID is a live (not zombie) process running this app's server.js. Checking
# the command line guards against a stale pid file whose number now belongs to
# another process.
is_app_process() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/stat" ]]; then
    local stat state
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    # The state letter follows the command name in parentheses, which may hold spaces.
    state="${stat##*) }"
    state="${state%% *}"
    [[ "$state" != "Z" && "$state" != "X" ]] || return 1
  fi
  if [[ -r "/proc/$pid/cmdline" ]]; then
    local cmdline
    cmdline="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *server.js* ]] || return 1
  fi
  return 0
}

# The pid recorded by start_server.sh, or nothing.
recorded_pid() {
  if [[ -f "$PID_FILE" ]]; then
    tr -dc '0-9' < "$PID_FILE"
  fi
}
