'use strict';

// server.js as a process: it listens on PORT and exits cleanly on SIGTERM.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');

const pkg = require('../package.json');

const SERVER = path.join(__dirname, '..', 'server.js');

// Resolve with the port once the server prints its "listening on port N" line.
function waitForPort(child) {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 10000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = output.match(/listening on port (\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${output}`));
    });
  });
}

describe('server.js', () => {
  test('listens on PORT and stops with exit code 0 on SIGTERM', async () => {
    // PORT=0 lets the system choose a free port; the server prints the one it got.
    const child = spawn(process.execPath, [SERVER], {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const port = await waitForPort(child);
      // /api/status rather than /health: this runs the checkout's own server.js, and a
      // FAIL_HEALTH file there (the failing-health switch) must fail the deployment, not
      // this test.
      const res = await fetch(`http://127.0.0.1:${port}/api/status`);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).version, pkg.version);

      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      assert.deepEqual(await exited, { code: 0, signal: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    }
  });

  test('refuses a PORT that is not a port number', async () => {
    const child = spawn(process.execPath, [SERVER], {
      env: { ...process.env, PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.notEqual(code, 0);
    assert.match(stderr, /PORT must be a whole number/);
  });
});
