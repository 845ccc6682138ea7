#!/usr/bin/env bash
# Assemble the CodeDeploy revision in a folder (default: dist/): what the instance needs
# to run the service and nothing else. buildspec.yml's post_build runs this; so can you.
#   bash tools/bundle.sh [bundle dir]
# Production dependencies are installed fresh from package-lock.json with `npm ci
# --omit=dev`, so ESLint and the other dev tools never reach the instance.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUNDLE_DIR="${1:-dist}"

# post_build runs even when the build phase failed; a failed build must not yield a
# revision that looks deployable.
if [[ "${CODEBUILD_BUILD_SUCCEEDING:-1}" != "1" ]]; then
  echo "The build failed (CODEBUILD_BUILD_SUCCEEDING=${CODEBUILD_BUILD_SUCCEEDING}); no deployment bundle is made." >&2
  exit 1
fi

rm -rf "$BUNDLE_DIR"
mkdir -p "$BUNDLE_DIR"

# The service, its manifest and lock file, and the CodeDeploy instructions.
cp app.js server.js package.json package-lock.json appspec.yml "$BUNDLE_DIR"/
cp -R scripts "$BUNDLE_DIR"/
chmod +x "$BUNDLE_DIR"/scripts/*.sh

# Made by `npm run build`; present in every CodeBuild build.
if [[ -f build-info.json ]]; then
  cp build-info.json "$BUNDLE_DIR"/
else
  echo "Note: no build-info.json (run 'npm run build' first); /api/status will report nulls." >&2
fi

# The health switch travels with the revision: a bundle that contains it fails
# ValidateService (see README.md, failing-health).
if [[ -f FAIL_HEALTH ]]; then
  cp FAIL_HEALTH "$BUNDLE_DIR"/
fi

(cd "$BUNDLE_DIR" && npm ci --omit=dev --prefer-offline --no-audit --no-fund)

echo "Bundle ready in ${BUNDLE_DIR}/:"
ls -la "$BUNDLE_DIR"
