'use strict';

// `npm run build` (tools/write-build-info.js), run as CodeBuild runs it.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const pkg = require('../package.json');

const SCRIPT = path.join(__dirname, '..', 'tools', 'write-build-info.js');

function runBuild(env) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'my-app-build-'));
  const out = path.join(dir, 'build-info.json');
  try {
    // Start from an environment without CodeBuild's variables, whatever runs the tests.
    const base = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !key.startsWith('CODEBUILD_') && key !== 'LOG_LEVEL',
      ),
    );
    execFileSync(process.execPath, [SCRIPT, out], { env: { ...base, ...env } });
    return JSON.parse(fs.readFileSync(out, 'utf8'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('npm run build', () => {
  test('records the commit and build id that CodeBuild sets', () => {
    const info = runBuild({
      CODEBUILD_RESOLVED_SOURCE_VERSION: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      CODEBUILD_BUILD_ID: 'my-app-build:11111111-2222-3333-4444-555555555555',
      LOG_LEVEL: 'debug',
    });
    assert.equal(info.name, pkg.name);
    assert.equal(info.version, pkg.version);
    assert.equal(info.commitId, 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
    assert.equal(info.buildId, 'my-app-build:11111111-2222-3333-4444-555555555555');
    assert.equal(info.logLevel, 'debug');
    assert.ok(!Number.isNaN(Date.parse(info.buildTime)), 'buildTime is a date');
  });

  test('writes nulls outside CodeBuild', () => {
    const info = runBuild({});
    assert.equal(info.commitId, null);
    assert.equal(info.buildId, null);
    assert.equal(info.logLevel, 'info');
  });
});
