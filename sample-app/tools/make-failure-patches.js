'use strict';

// Regenerates failures/*.patch, the failure switches the course applies with `git apply`.
// Each switch is written here as edits to the app's files; the patch is what real git
// says about them, made in a throw-away repository whose root is a copy of the app, so
// the patches apply at the root of any clone of the app. Run it after changing a file
// that a switch edits:   node tools/make-failure-patches.js

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const APP_ROOT = path.join(__dirname, '..');
const OUT_DIR = path.join(APP_ROOT, 'failures');

// Never part of the app's source (see .gitignore), nor needed by any switch.
const SKIP = new Set([
  '.git', 'node_modules', 'reports', 'dist', '.npm-cache', 'failures',
  'build-info.json', 'deploy-info.json', 'app.log', 'app.pid', 'FAIL_HEALTH',
]);

// name -> list of edits. An edit either replaces text that occurs exactly once in a file
// ({ file, find, replace }) or creates a file ({ file, create }).
const SWITCHES = {
  // A wording change without the matching test change: the unit tests fail in BUILD.
  'failing-test': [
    {
      file: 'app.js',
      find: 'res.type(\'text/plain\').send(`Hello from CI/CD Pipeline v${pkg.version}!`);',
      replace: 'res.type(\'text/plain\').send(`Hello from the CI/CD pipeline, version ${pkg.version}!`);',
    },
  ],

  // A leftover variable: ESLint's no-unused-vars fails PRE_BUILD; the tests would pass.
  'lint-error': [
    {
      file: 'app.js',
      find: 'const FAIL_HEALTH_FILE = \'FAIL_HEALTH\';\n',
      replace: 'const FAIL_HEALTH_FILE = \'FAIL_HEALTH\';\n\nconst DEFAULT_TIMEOUT_MS = 5000;\n',
    },
  ],

  // One command indented a space short: buildspec.yml is no longer valid YAML, and the
  // build fails at DOWNLOAD_SOURCE with YAML_FILE_ERROR.
  'buildspec-syntax': [
    {
      file: 'buildspec.yml',
      find: '      - npm test\n      - npm run build\n',
      replace: '      - npm test\n     - npm run build\n',
    },
  ],

  // A setting required only in production (start_server.sh sets NODE_ENV=production) and
  // missing on the instance: the build and the tests pass, the deployed server exits at
  // once and ValidateService fails.
  'crash-on-start': [
    {
      file: 'server.js',
      find: 'function main() {\n',
      replace: [
        'function main() {',
        '  if (process.env.NODE_ENV === \'production\' && !process.env.DATABASE_URL) {',
        '    throw new Error(\'DATABASE_URL is not set; it is required in production\');',
        '  }',
        '',
      ].join('\n'),
    },
  ],

  // The health switch: a revision that carries this file answers 503 on /health, so
  // ValidateService fails although the server runs.
  'failing-health': [
    {
      file: 'FAIL_HEALTH',
      create: [
        'While this file is in the app folder, GET /health answers 503 "unhealthy".',
        'It is the failure switch failing-health: tools/bundle.sh puts it into the deployment',
        'bundle, and CodeDeploy\'s ValidateService hook then fails. Delete it to recover.',
        '',
      ].join('\n'),
    },
  ],

  // A start that waits longer than the 30 s appspec.yml gives ApplicationStart, so
  // CodeDeploy ends the hook (ScriptTimedOut) before the server is started.
  'slow-start': [
    {
      file: 'scripts/start_server.sh',
      find: 'log "Starting my-app on port ${PORT}; log in ${LOG_FILE}."\n',
      replace: [
        '# Give the database time to come up before the server connects to it.',
        'log "Waiting 45 s for the database before starting."',
        'sleep 45',
        '',
        'log "Starting my-app on port ${PORT}; log in ${LOG_FILE}."',
        '',
      ].join('\n'),
    },
  ],
};

function git(cwd, ...args) {
  return execFileSync(
    'git',
    [
      '-c', 'user.name=labkit', '-c', 'user.email=labkit@example.invalid',
      '-c', 'core.autocrlf=false', '-c', 'diff.noprefix=false', '-c', 'diff.mnemonicPrefix=false',
      ...args,
    ],
    { cwd, encoding: 'utf8' },
  );
}

function copyApp(from, to) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) {
      continue;
    }
    const src = path.join(from, entry.name);
    const dest = path.join(to, entry.name);
    if (entry.isDirectory()) {
      fs.mkdirSync(dest);
      copyApp(src, dest);
    } else if (entry.isFile()) {
      fs.copyFileSync(src, dest);
      fs.chmodSync(dest, fs.statSync(src).mode);
    }
  }
}

function applyEdit(repo, edit) {
  const file = path.join(repo, edit.file);
  if (edit.create !== undefined) {
    fs.writeFileSync(file, edit.create);
    return;
  }
  const text = fs.readFileSync(file, 'utf8');
  const count = text.split(edit.find).length - 1;
  if (count !== 1) {
    throw new Error(`${edit.file}: expected the text to change exactly once, found it ${count} times: ${edit.find}`);
  }
  fs.writeFileSync(file, text.replace(edit.find, () => edit.replace));
}

function main() {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const [name, edits] of Object.entries(SWITCHES)) {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), `my-app-${name}-`));
    try {
      copyApp(APP_ROOT, repo);
      git(repo, 'init', '-q');
      git(repo, 'add', '-A');
      git(repo, 'commit', '-q', '-m', 'my-app');
      for (const edit of edits) {
        applyEdit(repo, edit);
      }
      git(repo, 'add', '-A');
      const patch = git(repo, 'diff', '--cached', '--no-color', '--no-ext-diff');
      fs.writeFileSync(path.join(OUT_DIR, `${name}.patch`), patch);
      console.log(`failures/${name}.patch`);
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
    }
  }
}

main();
