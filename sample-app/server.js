'use strict';

// Runs my-app: binds the application from app.js to PORT (default 3000) and shuts down
// cleanly on SIGTERM or SIGINT, which is how scripts/stop_server.sh ends it.

const { createApp } = require('./app');
const pkg = require('./package.json');

// How long open requests get to finish after a stop signal before the process gives up.
const SHUTDOWN_GRACE_MS = 10000;

function parsePort(value) {
  if (value === undefined || value === '') {
    return 3000;
  }
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a whole number from 0 to 65535, not "${value}"`);
  }
  return port;
}

function main() {
  const port = parsePort(process.env.PORT);
  const app = createApp();

  const server = app.listen(port, () => {
    // Report the bound port: with PORT=0 the system picks it.
    console.log(`my-app v${pkg.version} listening on port ${server.address().port} (pid ${process.pid})`);
  });

  server.on('error', (err) => {
    console.error(`my-app could not start: ${err.message}`);
    process.exit(1);
  });

  let stopping = false;
  function shutdown(signal) {
    if (stopping) {
      return;
    }
    stopping = true;
    console.log(`${signal} received, closing the server`);
    // close() stops accepting connections, ends idle keep-alive ones and calls back once
    // the requests in flight are answered.
    server.close((err) => {
      if (err) {
        console.error(`Error while closing: ${err.message}`);
        process.exit(1);
      }
      console.log('Server closed, exiting');
      process.exit(0);
    });
    setTimeout(() => {
      console.error(`Requests still open after ${SHUTDOWN_GRACE_MS} ms, exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
  }

  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

try {
  main();
} catch (err) {
  console.error(`my-app could not start: ${err.message}`);
  process.exit(1);
}
