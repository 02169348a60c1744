#!/usr/bin/env node
// Regenerates packages/templates/test/fixtures/openclaw-2026.9.6.schema.json: the JSON Schema printed by the
// pinned `openclaw config schema` (2.4 MB), pruned to the parts that cover the keys generateOpenClawConfig() emits
// for the sample specs. Pruning keeps validity for those configs exactly (only properties we never emit are
// dropped, and unknown keys stay rejected), so the unit test fails when we emit something OpenClaw rejects.
//   node tools/openclaw/snapshot-schema.cjs [--check]
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { root } = require('./ts-register.cjs');
const { ensureInstalled, openclaw, WANT } = require('./lib.cjs');

const OUT = path.join(root, 'packages/templates/test/fixtures', `openclaw-${WANT.openclaw}.schema.json`);
const DROP = new Set(['title', 'description', 'default', 'examples', '$schema', '$defs']);

function isObj(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function pruneSchema(full, values) {
  const defs = full.$defs || {};
  const prune = (s, vals, depth) => {
    if (!isObj(s)) return s;
    if (depth > 200) throw new Error('schema recursion too deep');
    if (s.$ref) {
      const m = /^#\/\$defs\/(.+)$/.exec(s.$ref);
      if (!m || !defs[m[1]]) throw new Error(`unsupported $ref ${s.$ref}`);
      const { $ref: _ignored, ...rest } = s;
      return prune({ ...defs[m[1]], ...rest }, vals, depth + 1);
    }
    const objs = vals.filter(isObj);
    const out = {};
    for (const [k, v] of Object.entries(s)) {
      if (DROP.has(k)) continue;
      if (k === 'properties') {
        const props = {};
        for (const [pk, ps] of Object.entries(v)) {
          const sub = objs.filter((o) => Object.prototype.hasOwnProperty.call(o, pk)).map((o) => o[pk]);
          if (sub.length) props[pk] = prune(ps, sub, depth + 1);
        }
        out.properties = props;
      } else if (k === 'patternProperties') {
        const pats = {};
        for (const [pat, ps] of Object.entries(v)) {
          const re = new RegExp(pat, 'u');
          const sub = objs.flatMap((o) =>
            Object.keys(o)
              .filter((key) => re.test(key))
              .map((key) => o[key]),
          );
          pats[pat] = sub.length ? prune(ps, sub, depth + 1) : false;
        }
        out.patternProperties = pats;
      } else if (k === 'additionalProperties' && isObj(v)) {
        const known = new Set(Object.keys(s.properties || {}));
        const pats = Object.keys(s.patternProperties || {}).map((p) => new RegExp(p, 'u'));
        const sub = objs.flatMap((o) =>
          Object.keys(o)
            .filter((key) => !known.has(key) && !pats.some((re) => re.test(key)))
            .map((key) => o[key]),
        );
        out.additionalProperties = sub.length ? prune(v, sub, depth + 1) : false;
      } else if (k === 'items') {
        const arrs = vals.filter(Array.isArray);
        if (Array.isArray(v))
          out.items = v.map((it, i) =>
            prune(
              it,
              arrs.filter((a) => a.length > i).map((a) => a[i]),
              depth + 1,
            ),
          );
        else out.items = prune(v, arrs.flat(), depth + 1);
      } else if (k === 'additionalItems' && isObj(v)) {
        const n = Array.isArray(s.items) ? s.items.length : 0;
        out.additionalItems = prune(
          v,
          vals.filter(Array.isArray).flatMap((a) => a.slice(n)),
          depth + 1,
        );
      } else if (k === 'anyOf' || k === 'oneOf' || k === 'allOf') {
        out[k] = v.map((b) => prune(b, vals, depth + 1));
      } else if (k === 'not' || k === 'if' || k === 'then' || k === 'else') {
        out[k] = prune(v, vals, depth + 1);
      } else {
        out[k] = v;
      }
    }
    return out;
  };
  return {
    $comment: `openclaw ${WANT.openclaw} \`openclaw config schema\`, pruned by tools/openclaw/snapshot-schema.cjs to the keys openclawps emits`,
    ...prune(full, values, 0),
  };
}

function sampleConfigs() {
  const { SAMPLE_ENVS, sampleSpec } = require(path.join(root, 'packages/templates/test/fixtures/specs.ts'));
  const { generateOpenClawConfig } = require('@openclawps/templates');
  const out = [];
  for (const name of Object.keys(SAMPLE_ENVS))
    for (const distro of ['ubuntu', 'debian']) out.push(generateOpenClawConfig(sampleSpec(name), { distro }));
  return out;
}

function main() {
  const skip = ensureInstalled();
  if (skip) throw new Error(skip);
  const r = openclaw(['config', 'schema']);
  if (r.status !== 0)
    throw new Error(`openclaw config schema failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
  const full = JSON.parse(r.stdout);
  const pruned = `${JSON.stringify(pruneSchema(full, sampleConfigs()), null, 1)}\n`;
  if (process.argv.includes('--check')) {
    const cur = fs.existsSync(OUT) ? JSON.stringify(JSON.parse(fs.readFileSync(OUT, 'utf8'))) : '';
    if (cur !== JSON.stringify(JSON.parse(pruned))) {
      console.error(`${path.relative(root, OUT)} is stale: run node tools/openclaw/snapshot-schema.cjs`);
      process.exit(1);
    }
    console.log(`${path.relative(root, OUT)} is current`);
    return;
  }
  fs.writeFileSync(OUT, pruned);
  // keep the committed file in the repository's prettier style (npm run lint checks it)
  spawnSync('npx', ['prettier', '--write', OUT], { cwd: root, stdio: 'ignore' });
  console.log(`wrote ${path.relative(root, OUT)} (${pruned.length} bytes, from ${r.stdout.length})`);
}

module.exports = { pruneSchema, sampleConfigs };
if (require.main === module) main();
