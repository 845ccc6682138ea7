'use strict';

// The HTTP application of my-app: its routes and nothing else. server.js binds it to a
// port, so the tests can run the same application on a port of their own.

const fs = require('node:fs');
const path = require('node:path');
const express = require('express');

const pkg = require('./package.json');

// Written by `npm run build` (tools/write-build-info.js) in CodeBuild; absent in a plain
// checkout, where the status route then reports nulls.
const BUILD_INFO_FILE = 'build-info.json';

// An operator (or the course's failing-health switch) marks a host unhealthy by putting
// this file next to app.js. It is read on every request, so it can be added or removed
// while the service runs.
const FAIL_HEALTH_FILE = 'FAIL_HEALTH';

function readBuildInfo(appDir) {
  const file = path.join(appDir, BUILD_INFO_FILE);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') {
      return {};
    }
    // A damaged build-info.json must not keep the service down; say so and go on.
    console.error(`Ignoring ${file}: ${err.message}`);
    return {};
  }
}

/**
 * Make the Express application.
 *
 * @param {object} [options]
 * @param {string} [options.appDir] folder holding build-info.json and FAIL_HEALTH
 *   (default: the folder of this file, which is where a deployment puts them)
 * @param {string} [options.logLevel] `debug` logs every request (default: the LOG_LEVEL
 *   environment variable, then the level recorded at build time, then `info`)
 * @returns {import('express').Express}
 */
function createApp(options = {}) {
  const appDir = options.appDir || __dirname;
  const buildInfo = readBuildInfo(appDir);
  const logLevel = options.logLevel || process.env.LOG_LEVEL || buildInfo.logLevel || 'info';

  const app = express();
  app.disable('x-powered-by');

  if (logLevel === 'debug') {
    app.use((req, res, next) => {
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        console.log(`${req.method} ${req.originalUrl} ${res.statusCode} ${ms.toFixed(1)}ms`);
      });
      next();
    });
  }

  app.get('/', (req, res) => {
    res.type('text/plain').send(`Hello from CI/CD Pipeline v${pkg.version}!`);
  });

  app.get('/health', (req, res) => {
    const body = {
      status: 'healthy',
      version: pkg.version,
      uptime: process.uptime(),
    };
    if (fs.existsSync(path.join(appDir, FAIL_HEALTH_FILE))) {
      body.status = 'unhealthy';
      body.reason = `${FAIL_HEALTH_FILE} file present`;
      res.status(503);
    }
    res.json(body);
  });

  app.get('/api/status', (req, res) => {
    res.json({
      name: pkg.name,
      version: pkg.version,
      commitId: buildInfo.commitId || null,
      buildId: buildInfo.buildId || null,
      buildTime: buildInfo.buildTime || null,
      logLevel,
      node: process.version,
      uptime: process.uptime(),
    });
  });

  app.use((req, res) => {
    res.status(404).json({ error: 'Not Found', path: req.path });
  });

  // Express recognises an error handler by its four parameters, so `next` must stay.
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    console.error(err);
    res.status(500).json({ error: 'Internal Server Error' });
  });

  return app;
}

module.exports = { createApp };
