/**
 * A small JSON Schema (draft-07 subset) validator: the keywords `openclaw config schema` uses.
 * Unknown keywords are ignored except `$ref` into `#/$defs` (resolved) and `format` (not checked).
 */
type Schema = boolean | { [k: string]: unknown };

export interface SchemaError {
  path: string;
  message: string;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function validateJsonSchema(schema: Schema, value: unknown, root: Schema = schema): SchemaError[] {
  const errors: SchemaError[] = [];
  const check = (s: Schema, v: unknown, path: string): void => {
    if (s === true) return;
    if (s === false) return void errors.push({ path, message: 'not allowed' });
    const err = (message: string): void => void errors.push({ path: path || '(root)', message });
    if (typeof s.$ref === 'string') {
      const m = /^#\/\$defs\/(.+)$/.exec(s.$ref);
      const defs = isObj(root) ? (root.$defs as Record<string, Schema> | undefined) : undefined;
      if (!m || !defs?.[m[1]]) return err(`unresolvable $ref ${s.$ref}`);
      check(defs[m[1]], v, path);
    }
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      const t = typeOf(v);
      if (!types.some((x) => x === t || (x === 'number' && t === 'integer')))
        return err(`expected ${types.join('|')}, got ${t}`);
    }
    if (s.enum !== undefined && !(s.enum as unknown[]).some((e) => deepEqual(e, v)))
      err(`must be one of ${JSON.stringify(s.enum)}`);
    if ('const' in s && !deepEqual(s.const, v)) err(`must be ${JSON.stringify(s.const)}`);
    if (typeof v === 'number') {
      if (typeof s.minimum === 'number' && v < s.minimum) err(`must be >= ${s.minimum}`);
      if (typeof s.maximum === 'number' && v > s.maximum) err(`must be <= ${s.maximum}`);
      if (typeof s.exclusiveMinimum === 'number' && v <= s.exclusiveMinimum)
        err(`must be > ${s.exclusiveMinimum}`);
      if (typeof s.exclusiveMaximum === 'number' && v >= s.exclusiveMaximum)
        err(`must be < ${s.exclusiveMaximum}`);
    }
    if (typeof v === 'string') {
      const len = [...v].length;
      if (typeof s.minLength === 'number' && len < s.minLength) err(`shorter than ${s.minLength}`);
      if (typeof s.maxLength === 'number' && len > s.maxLength) err(`longer than ${s.maxLength}`);
      if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v))
        err(`does not match ${s.pattern}`);
    }
    if (Array.isArray(v)) {
      if (typeof s.minItems === 'number' && v.length < s.minItems) err(`fewer than ${s.minItems} items`);
      if (typeof s.maxItems === 'number' && v.length > s.maxItems) err(`more than ${s.maxItems} items`);
      if (s.uniqueItems === true && new Set(v.map((x) => JSON.stringify(x))).size !== v.length)
        err('items not unique');
      if (Array.isArray(s.items)) {
        (s.items as Schema[]).forEach((it, i) => i < v.length && check(it, v[i], `${path}[${i}]`));
        if (s.additionalItems !== undefined)
          v.slice((s.items as Schema[]).length).forEach((x, i) =>
            check(s.additionalItems as Schema, x, `${path}[${i + (s.items as Schema[]).length}]`),
          );
      } else if (s.items !== undefined) v.forEach((x, i) => check(s.items as Schema, x, `${path}[${i}]`));
    }
    if (isObj(v)) {
      const keys = Object.keys(v);
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const pats = Object.entries((s.patternProperties ?? {}) as Record<string, Schema>).map(
        ([p, ps]) => [new RegExp(p, 'u'), ps] as const,
      );
      for (const r of (s.required ?? []) as string[]) if (!(r in v)) err(`missing required property ${r}`);
      if (typeof s.minProperties === 'number' && keys.length < s.minProperties)
        err(`fewer than ${s.minProperties} properties`);
      if (typeof s.maxProperties === 'number' && keys.length > s.maxProperties)
        err(`more than ${s.maxProperties} properties`);
      for (const k of keys) {
        const p = path ? `${path}.${k}` : k;
        if (s.propertyNames !== undefined) {
          const before = errors.length;
          check(s.propertyNames as Schema, k, `${p} (name)`);
          if (errors.length > before) continue;
        }
        let matched = false;
        if (k in props) {
          matched = true;
          check(props[k], v[k], p);
        }
        for (const [re, ps] of pats)
          if (re.test(k)) {
            matched = true;
            check(ps, v[k], p);
          }
        if (!matched && s.additionalProperties !== undefined) {
          if (s.additionalProperties === false) errors.push({ path: p, message: 'unrecognized key' });
          else check(s.additionalProperties as Schema, v[k], p);
        }
      }
    }
    const sub = (b: Schema) => validateJsonSchema(b, v, root).length === 0;
    if (Array.isArray(s.allOf)) (s.allOf as Schema[]).forEach((b) => check(b, v, path));
    if (Array.isArray(s.anyOf) && !(s.anyOf as Schema[]).some(sub)) err('matches none of anyOf');
    if (Array.isArray(s.oneOf)) {
      const n = (s.oneOf as Schema[]).filter(sub).length;
      if (n !== 1) err(`matches ${n} of oneOf (exactly one required)`);
    }
    if (s.not !== undefined && sub(s.not as Schema)) err('matches a schema it must not');
    if (s.if !== undefined) {
      if (sub(s.if as Schema)) {
        if (s.then !== undefined) check(s.then as Schema, v, path);
      } else if (s.else !== undefined) check(s.else as Schema, v, path);
    }
  };
  check(schema, value, '');
  return errors;
}
