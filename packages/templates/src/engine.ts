/**
 * Handlebars with strict lookups and per-target escaping. HTML escaping is off (noEscape) because nothing we
 * render is HTML; instead every `{{…}}` must go through one of the escaping helpers, checked on the template's
 * AST before compiling: a bare `{{value}}` is an error, so a value can never reach YAML or shell unescaped.
 */
import Handlebars from 'handlebars';

/** A YAML double-quoted scalar: JSON escapes, plus escapes for everything YAML treats as a line break or
 * non-printable (NEL, LS, PS, BOM, C0/C1 controls, DEL). Safe for any unicode string. */
export function yamlString(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  return JSON.stringify(s).replace(
    /[\u007f-\u009f\u2028\u2029\ufeff\ufff9-\ufffb]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A JSON value (strings quoted and escaped; U+2028/9 escaped too). */
export function jsonValue(value: unknown): string {
  const out = JSON.stringify(value);
  if (out === undefined) throw new Error('json: value is not JSON-serialisable');
  return out.replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** A single shell word: single-quoted, with ' written as '\''. */
export function shellWord(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  if (s.includes('\0')) throw new Error('sh: NUL cannot appear in a shell word');
  return `'${s.replace(/'/g, "'\\''")}'`;
}

export function base64(value: unknown): string {
  return Buffer.isBuffer(value)
    ? value.toString('base64')
    : Buffer.from(String(value), 'utf8').toString('base64');
}

export const ESCAPING_HELPERS = ['yaml', 'json', 'sh', 'b64'] as const;
const BLOCK_HELPERS = ['each', 'if', 'unless', 'with'];

/** Param names by "line:column" of the mustache, for the template being rendered (rendering is synchronous). */
let currentParams: Map<string, string> = new Map();

function createEnv(): typeof Handlebars {
  const hb = Handlebars.create();
  const unary = (name: string, fn: (v: unknown) => string) =>
    hb.registerHelper(name, function (...args: unknown[]) {
      if (args.length !== 2) throw new Error(`{{${name}}} takes exactly one value`);
      if (args[0] === undefined || args[0] === null) {
        const loc = (args[1] as { loc?: hbs.AST.SourceLocation }).loc;
        const param = (loc && currentParams.get(`${loc.start.line}:${loc.start.column}`)) || 'value';
        throw new Error(`"${param}" not defined (line ${loc?.start.line ?? '?'}: {{${name} ${param}}})`);
      }
      return fn(args[0]);
    });
  unary('yaml', yamlString);
  unary('json', jsonValue);
  unary('sh', shellWord);
  unary('b64', base64);
  return hb;
}

const env = createEnv();

type Node = hbs.AST.Node & Record<string, unknown>;

/** Every mustache must be `{{helper value}}` with an escaping helper; blocks only the built-ins; no partials. */
export function lintTemplate(source: string, name = 'template'): Map<string, string> {
  const ast = Handlebars.parse(source);
  const problems: string[] = [];
  const params = new Map<string, string>();
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as Node;
    const loc = n.loc ? `${name}:${n.loc.start.line}:${n.loc.start.column + 1}` : name;
    if (n.type === 'MustacheStatement') {
      const path = n.path as hbs.AST.PathExpression;
      const helper = path.type === 'PathExpression' ? path.original : '';
      if (!(ESCAPING_HELPERS as readonly string[]).includes(helper) || (n.params as unknown[]).length !== 1)
        problems.push(
          `${loc}: {{${helper || '…'}}} must be one of {{yaml x}}, {{json x}}, {{sh x}}, {{b64 x}}`,
        );
      if (n.escaped === false) problems.push(`${loc}: triple-stash is not allowed; use an escaping helper`);
      const p = (n.params as Array<{ original?: unknown }>)[0];
      if (n.loc && p) params.set(`${n.loc.start.line}:${n.loc.start.column}`, String(p.original));
    } else if (n.type === 'BlockStatement') {
      const helper = (n.path as hbs.AST.PathExpression).original;
      if (!BLOCK_HELPERS.includes(helper)) problems.push(`${loc}: block helper #${helper} is not allowed`);
    } else if (
      n.type === 'PartialStatement' ||
      n.type === 'PartialBlockStatement' ||
      n.type === 'DecoratorBlock'
    ) {
      problems.push(`${loc}: partials and decorators are not allowed`);
    }
    for (const [k, v] of Object.entries(n)) if (k !== 'loc' && v && typeof v === 'object') visit(v);
  };
  visit(ast);
  if (problems.length) throw new Error(`unsafe template ${name}:\n  ${problems.join('\n  ')}`);
  return params;
}

const compiled = new Map<string, { tpl: HandlebarsTemplateDelegate; params: Map<string, string> }>();

/** Renders with strict lookups: a missing or unknown variable throws. */
export function render(source: string, context: object, name = 'template'): string {
  let entry = compiled.get(source);
  if (!entry) {
    const params = lintTemplate(source, name);
    const tpl = env.compile(source, {
      strict: true,
      noEscape: true,
      knownHelpersOnly: true,
      knownHelpers: { yaml: true, json: true, sh: true, b64: true },
    });
    entry = { tpl, params };
    compiled.set(source, entry);
  }
  currentParams = entry.params;
  try {
    return entry.tpl(context, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false });
  } catch (e) {
    throw new Error(`rendering ${name}: ${(e as Error).message}`);
  }
}
