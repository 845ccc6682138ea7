'use strict';

// Route tests: each test runs the real application on an ephemeral port and asks it over
// HTTP with fetch, so nothing is mocked.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createApp } = require('../app');
const pkg = require('../package.json');

// Start the application from app.js on a free port; returns its base URL and a stop().
async function startApp(options) {
  const server = createApp(options).listen(0, '127.0.0.1');
  await new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

// A folder of its own stands for the app's directory, so build-info.json and FAIL_HEALTH
// in the checkout never change what these tests see.
function makeAppDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'my-app-test-'));
}

describe('without build information', () => {
  let app;
  let appDir;

  before(async () => {
    appDir = makeAppDir();
    app = await startApp({ appDir, logLevel: 'info' });
  });

  after(async () => {
    await app.stop();
    fs.rmSync(appDir, { recursive: true, force: true });
  });

  test('GET / greets with the version from package.json', async () => {
    const res = await fetch(`${app.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    assert.equal(await res.text(), `Hello from CI/CD Pipeline v${pkg.version}!`);
  });

  test('GET /health reports healthy, the version and the uptime', async () => {
    const res = await fetch(`${app.url}/health`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, 'healthy');
    assert.equal(body.version, pkg.version);
    assert.equal(typeof body.uptime, 'number');
    assert.ok(body.uptime >= 0);
  });

  test('GET /health answers 503 while a FAIL_HEALTH file is in the app directory', async () => {
    const flag = path.join(appDir, 'FAIL_HEALTH');
    fs.writeFileSync(flag, 'marked unhealthy by a test\n');
    try {
      const res = await fetch(`${app.url}/health`);
      assert.equal(res.status, 503);
      const body = await res.json();
      assert.equal(body.status, 'unhealthy');
      assert.match(body.reason, /FAIL_HEALTH/);
    } finally {
      fs.rmSync(flag);
    }
    const again = await fetch(`${app.url}/health`);
    assert.equal(again.status, 200, 'removing the file makes the service healthy again');
  });

  test('GET /api/status reports nulls for the commit and build', async () => {
    const res = await fetch(`${app.url}/api/status`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.name, pkg.name);
    assert.equal(body.version, pkg.version);
    assert.equal(body.commitId, null);
    assert.equal(body.buildId, null);
    assert.equal(body.logLevel, 'info');
    assert.equal(body.node, process.version);
  });

  test('an unknown path answers 404 with a JSON error', async () => {
    const res = await fetch(`${app.url}/no-such-page`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: 'Not Found', path: '/no-such-page' });
  });
});

describe('with build information', () => {
  let app;
  let appDir;
  const info = {
    name: pkg.name,
    version: pkg.version,
    commitId: '3f6c1a9e2b7d4c8f0a1b2c3d4e5f60718293a4b5',
    buildId: 'my-app-build:0b6a1a52-54e3-4b5c-9d1e-2f0c3a4b5c6d',
    buildTime: '2024-05-01T12:00:00.000Z',
    logLevel: 'warn',
  };

  before(async () => {
    appDir = makeAppDir();
    fs.writeFileSync(path.join(appDir, 'build-info.json'), JSON.stringify(info));
    app = await startApp({ appDir });
  });

  after(async () => {
    await app.stop();
    fs.rmSync(appDir, { recursive: true, force: true });
  });

  test('GET /api/status reports the commit and build that made this version', async () => {
    const fromEnv = process.env.LOG_LEVEL;
    const res = await fetch(`${app.url}/api/status`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.commitId, info.commitId);
    assert.equal(body.buildId, info.buildId);
    assert.equal(body.buildTime, info.buildTime);
    // The level recorded at build time applies unless LOG_LEVEL overrides it.
    assert.equal(body.logLevel, fromEnv || info.logLevel);
  });
});
