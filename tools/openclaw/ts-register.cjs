// Lets plain node scripts (conformance, schema snapshot) load the repo's TypeScript sources:
// compiles .ts with @swc/core (a root devDependency) and maps @openclawps/<name> like tsconfig.json.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const root = path.resolve(__dirname, '..', '..');
const swc = require(require.resolve('@swc/core', { paths: [root] }));
const aliases = {
  config: 'packages/config/src/index.ts',
  templates: 'packages/templates/src/index.ts',
  azure: 'packages/azure/src/index.ts',
  guest: 'packages/guest/src/index.ts',
};
const origResolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const m = /^@openclawps\/([a-z-]+)$/.exec(request);
  if (m && aliases[m[1]]) return path.join(root, aliases[m[1]]);
  if (parent && parent.filename && parent.filename.endsWith('.ts') && request.startsWith('.')) {
    const base = path.resolve(path.dirname(parent.filename), request);
    for (const c of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(c)) return c;
  }
  return origResolve.call(this, request, parent, ...rest);
};
require.extensions['.ts'] = (mod, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
  });
  mod._compile(code, filename);
};
module.exports = { root };
