#!/usr/bin/env bash
# AfterInstall: the files are in place. Check the bundle brought its production
# dependencies, record which deployment installed it, and hand the folder to ec2-user,
# who runs the service. Runs as root on EC2.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cd "$APP_DIR"
[[ -f server.js && -f package.json ]] || fail "server.js or package.json is missing from ${APP_DIR}."
[[ -d node_modules/express ]] || fail "node_modules/express is missing: the bundle must carry its production dependencies (see tools/bundle.sh)."

version="$(node -p "require('./package.json').version")"
log "Installed my-app v${version} in ${APP_DIR}."

# What the agent told this deployment, kept for whoever looks at the instance later.
DEPLOYMENT_ID="${DEPLOYMENT_ID:-}" APPLICATION_NAME="${APPLICATION_NAME:-}" \
  DEPLOYMENT_GROUP_NAME="${DEPLOYMENT_GROUP_NAME:-}" DEPLOYMENT_GROUP_ID="${DEPLOYMENT_GROUP_ID:-}" \
  node -e '
    const e = process.env;
    const info = {
      deploymentId: e.DEPLOYMENT_ID || null,
      applicationName: e.APPLICATION_NAME || null,
      deploymentGroupName: e.DEPLOYMENT_GROUP_NAME || null,
      deploymentGroupId: e.DEPLOYMENT_GROUP_ID || null,
      installedAt: new Date().toISOString(),
    };
    require("node:fs").writeFileSync("deploy-info.json", JSON.stringify(info, null, 2) + "\n");
  '

# On EC2 the agent copies the files as root; the service runs as ec2-user and writes
# its pid file and log here. (labkit's hosts have no ec2-user, and need no chown.)
if [[ "$(id -u)" -eq 0 ]] && id "$APP_USER" >/dev/null 2>&1; then
  chown -R "${APP_USER}:${APP_USER}" "$APP_DIR"
fi
