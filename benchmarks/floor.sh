#!/usr/bin/env bash
# The round trip's floor: the work a push really needs, run directly in a shell.
# Usage: floor.sh <work dir with the sample app> <npm cache dir> <host dir 1> <host dir 2>
# Builds as buildspec.yml does, zips the bundle, unzips it into both host folders; the caller
# starts node in each and polls /health (so it can end them by pid).
set -euo pipefail
work="$1" cache="$2" host1="$3" host2="$4"
export npm_config_cache="$cache"
cd "$work"
rm -rf node_modules dist bundle.zip
npm ci --prefer-offline --no-audit --no-fund >/dev/null
npm run lint --silent >/dev/null
npm test --silent >/dev/null
npm run build --silent >/dev/null
bash tools/bundle.sh dist >/dev/null 2>&1
(cd dist && zip -qr ../bundle.zip .)
for host in "$host1" "$host2"; do
  rm -rf "$host" && mkdir -p "$host"
  unzip -q bundle.zip -d "$host"
done
