'use strict';

// ESLint flat config: the recommended rules for CommonJS code that runs on Node.js.

const js = require('@eslint/js');
const globals = require('globals');

module.exports = [
  {
    // Generated or downloaded things, never edited by hand.
    ignores: ['dist/', 'reports/', '.npm-cache/', 'coverage/'],
  },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
];
