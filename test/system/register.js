// Lets plain `node` run the TypeScript system tests: transpiles .ts with @swc/core on require
// and maps the @openclawps/<name> aliases to packages/<name>/src/index.ts (as jest.config.js does).
// Used by test/system/run.js; kept outside jest on purpose (the booted-container suite is slow and needs root).
'use strict';
const path = require('node:path');
const Module = require('node:module');
const { addHook } = require('pirates');
const swc = require('@swc/core');

const root = path.resolve(__dirname, '../..');
const aliases = {
  '@openclawps/actions-common': path.join(root, 'actions/common/index.ts'),
};
for (const name of ['config', 'templates', 'azure', 'guest', 'emulator', 'cli', 'lifecycle']) {
  aliases[`@openclawps/${name}`] = path.join(root, `packages/${name}/src/index.ts`);
}

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolve.call(this, aliases[request] ?? request, ...rest);
};

addHook(
  (code, filename) =>
    swc.transformSync(code, {
      filename,
      sourceMaps: 'inline',
      jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
      module: { type: 'commonjs' },
    }).code,
  { exts: ['.ts'], ignoreNodeModules: true },
);
