import { execFileSync } from 'node:child_process';
import YAML from 'yaml';
import { base64, jsonValue, lintTemplate, render, shellWord, yamlString } from '@openclawps/templates';
import { ADVERSARIAL } from './fixtures/adversarial';

describe('yaml helper', () => {
  it.each(ADVERSARIAL.map((v) => [v]))('%j round-trips as a YAML scalar and injects no key', (v) => {
    const doc = render('a: {{yaml v}}\nb: fixed\n', { v }, 't.yaml');
    const parsed = YAML.parse(doc);
    expect(parsed).toEqual({ a: v, b: 'fixed' });
    // also as a list item
    expect(YAML.parse(render('- {{yaml v}}\n- z\n', { v }))).toEqual([v, 'z']);
  });
  it('never HTML-escapes', () => {
    expect(yamlString('<&>"\'')).toBe('"<&>\\"\'"');
    expect(render('a: {{yaml v}}', { v: '&<>' })).toBe('a: "&<>"');
  });
});

describe('json helper', () => {
  it.each(ADVERSARIAL.map((v) => [v]))('%j round-trips in JSON', (v) => {
    const doc = render('{"a": {{json v}}, "b": 1}', { v }, 't.json');
    expect(JSON.parse(doc)).toEqual({ a: v, b: 1 });
  });
  it('handles objects and numbers, and never HTML-escapes', () => {
    expect(JSON.parse(render('{{json v}}', { v: { x: [1, '<a>'] } }))).toEqual({ x: [1, '<a>'] });
    expect(jsonValue('&')).toBe('"&"');
  });
});

describe('sh helper', () => {
  const noNul = ADVERSARIAL.filter((v) => !v.includes('\0'));
  it.each(noNul.map((v) => [v]))('%j comes back exactly from bash and runs nothing', (v) => {
    const script = render('printf %s {{sh v}}', { v });
    const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
    expect(out).toBe(v);
    // one word, not several
    const count = execFileSync('bash', ['-c', render('set -- {{sh v}}; printf %s "$#"', { v })], {
      encoding: 'utf8',
    });
    expect(count).toBe('1');
  });
  it('quotes with single quotes only', () => {
    expect(shellWord("a'b")).toBe("'a'\\''b'");
  });
});

describe('b64 helper', () => {
  it.each(ADVERSARIAL.map((v) => [v]))('%j decodes back', (v) => {
    expect(Buffer.from(render('{{b64 v}}', { v }), 'base64').toString('utf8')).toBe(v);
  });
  it('encodes buffers', () => {
    expect(base64(Buffer.from([0, 255]))).toBe('AP8=');
  });
});

describe('strict templates', () => {
  it('a missing variable is an error', () => {
    expect(() => render('a: {{yaml missing}}', {})).toThrow(/"missing" not defined/);
    expect(() => render('a: {{yaml x.y}}', { x: {} })).toThrow(/not defined/);
  });
  it('a bare {{value}} is rejected (it would bypass escaping)', () => {
    expect(() => lintTemplate('a: {{v}}', 'bare.hbs')).toThrow(/bare\.hbs:1:4: \{\{v\}\} must be one of/);
  });
  it('triple-stash, unknown helpers, partials and multi-argument helpers are rejected', () => {
    expect(() => lintTemplate('{{{yaml v}}}')).toThrow(/triple-stash/);
    expect(() => lintTemplate('{{raw v}}')).toThrow(/must be one of/);
    expect(() => lintTemplate('{{> other}}')).toThrow(/partials/);
    expect(() => lintTemplate('{{yaml a b}}')).toThrow(/must be one of/);
    expect(() => lintTemplate('{{#custom}}x{{/custom}}')).toThrow(/block helper #custom/);
  });
  it('undefined values are an error in helpers too', () => {
    expect(() => render('{{yaml v}}', { v: undefined })).toThrow();
  });
  it('template syntax inside values is not interpreted', () => {
    expect(YAML.parse(render('a: {{yaml v}}', { v: '{{yaml other}}' }))).toEqual({ a: '{{yaml other}}' });
  });
});
