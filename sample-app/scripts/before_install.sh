#!/usr/bin/env bash
# BeforeInstall: make sure the instance can run the app (Node.js present) and that the
# destination folder exists. Runs as root on EC2, so it may install packages.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

log "Deployment ${DEPLOYMENT_ID:-(none)} of ${APPLICATION_NAME:-my-app} to ${DEPLOYMENT_GROUP_NAME:-(no group)}."

if ! command -v node >/dev/null 2>&1; then
  if [[ "$(id -u)" -eq 0 ]] && command -v dnf >/dev/null 2>&1; then
    # Amazon Linux 2023 packages Node.js as "nodejs".
    log "Node.js not found; installing it with dnf."
    dnf install -y nodejs
  else
    fail "Node.js is not installed and cannot be installed here (needs root and dnf). Install Node.js 18 or later."
  fi
fi
log "Using Node.js $(node --version) at $(command -v node)."

# Modules of an earlier revision must not mix with this one's.
rm -rf "${APP_DIR}/node_modules"
mkdir -p "$APP_DIR"
