'use strict';

// `npm run build`: records what was built into build-info.json, which the service reports
// on /api/status. CodeBuild sets CODEBUILD_RESOLVED_SOURCE_VERSION (the commit id) and
// CODEBUILD_BUILD_ID; LOG_LEVEL comes from Parameter Store through buildspec.yml.
// Usage: node tools/write-build-info.js [output file]   (default: build-info.json)

const fs = require('node:fs');
const path = require('node:path');

const pkg = require('../package.json');

function buildInfo(env = process.env, now = new Date()) {
  return {
    name: pkg.name,
    version: pkg.version,
    commitId: env.CODEBUILD_RESOLVED_SOURCE_VERSION || null,
    buildId: env.CODEBUILD_BUILD_ID || null,
    buildTime: now.toISOString(),
    logLevel: env.LOG_LEVEL || 'info',
  };
}

function main() {
  const out = path.resolve(process.argv[2] || path.join(__dirname, '..', 'build-info.json'));
  const info = buildInfo();
  fs.writeFileSync(out, `${JSON.stringify(info, null, 2)}\n`);
  console.log(`Wrote ${out}: version ${info.version}, commit ${info.commitId || '(none)'}, build ${info.buildId || '(none)'}`);
}

main();
