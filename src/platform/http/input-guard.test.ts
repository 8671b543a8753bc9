import { describe, expect, it } from 'vitest';
import {
  controlCharacterProblem,
  inspectJson,
  MAX_JSON_DEPTH,
  MAX_JSON_ITEMS,
  MAX_JSON_VALUES,
} from './input-guard.js';

/** An object nested `depth` levels deep, the outermost counting as level 1. */
function nested(depth: number, inner: unknown = 1): unknown {
  let value: unknown = inner;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

describe('inspectJson', () => {
  it.each([
    ['a plain bid-like body', { gpus: 8, offers: [{ gpuModel: 'H100' }], workload: { env: { A: '1' } } }],
    ['the deepest body allowed', nested(MAX_JSON_DEPTH)],
    [
      'tabs and line breaks in a workload command word',
      { workload: { command: ['sh', '-c', 'set -e\n\techo hi\r\n'] } },
    ],
    ['line breaks in a workload env value', { workload: { env: { CERT: '-----BEGIN-----\nabc\n-----END-----\n' } } }],
    ['line breaks in a report message', { message: 'line 1\nline 2', error: { message: 'a\nb' } }],
    ['printable Unicode, DEL excepted', { name: 'ünïcødé ✓ \u00a0\u0085 \u200b' }],
  ])('accepts %s', (_what, value) => {
    expect(inspectJson(value, '(body)')).toEqual([]);
  });

  it.each([
    ['one level too deep', nested(MAX_JSON_DEPTH + 1)],
    ['2,000 levels of objects', nested(2_000)],
    ['500,000 levels of arrays, without overflowing', JSON.parse('['.repeat(500_000) + ']'.repeat(500_000))],
  ])('refuses %s as too_deep, naming the limit', (_what, value) => {
    expect(inspectJson(value, '(body)')).toEqual([
      { field: '(body)', rule: 'too_deep', message: expect.stringContaining(`the limit is ${MAX_JSON_DEPTH}`) },
    ]);
  });

  it.each([
    ['an array one item too wide', { nodes: Array(MAX_JSON_ITEMS + 1).fill({}) }, 'nodes'],
    [
      'an object one key too wide',
      { workload: { env: Object.fromEntries(Array.from({ length: MAX_JSON_ITEMS + 1 }, (_, i) => [`K${i}`, 'v'])) } },
      'workload.env',
    ],
    [
      'a body one key too wide',
      Object.fromEntries(Array.from({ length: MAX_JSON_ITEMS + 1 }, (_, i) => [`k${i}`, 1])),
      '(body)',
    ],
  ])('refuses %s as too_many_items, naming the field and the limit', (_what, value, field) => {
    expect(inspectJson(value, '(body)')).toEqual([
      {
        field,
        rule: 'too_many_items',
        message: `${field} holds more than ${MAX_JSON_ITEMS} items (the limit is ${MAX_JSON_ITEMS})`,
      },
    ]);
  });

  it('accepts the widest arrays up to the limit, and refuses more values than MAX_JSON_VALUES in all', () => {
    const row = (width: number) => Array(width).fill(0);
    expect(inspectJson({ nodes: Array.from({ length: MAX_JSON_ITEMS }, () => ({ tags: row(32) })) }, '(body)')).toEqual(
      [],
    );
    const rows = Math.ceil(MAX_JSON_VALUES / MAX_JSON_ITEMS);
    expect(inspectJson({ nodes: Array.from({ length: rows }, () => row(MAX_JSON_ITEMS)) }, '(body)')).toEqual([
      { field: '(body)', rule: 'too_many_values', message: expect.stringContaining(`the limit is ${MAX_JSON_VALUES}`) },
    ]);
  });

  it.each([
    ['NUL in a top-level string', { name: 'a\u0000b' }, 'name'],
    [
      'NUL in an array element of an object',
      { offers: [{ gpuModel: 'ok' }, { gpuModel: 'H100\u0000' }] },
      'offers[1].gpuModel',
    ],
    ['an escape in an image', { workload: { image: 'x\u001b[31m' } }, 'workload.image'],
    ['DEL in a name', { name: 'a\u007f' }, 'name'],
    ['a line break in a name', { name: 'a\nb' }, 'name'],
    ['a tab in a label array', { regions: ['eu', 'eu\twest'] }, 'regions[1]'],
    [
      'NUL in a workload env value, where line breaks are allowed',
      { workload: { env: { A: 'x\u0000' } } },
      'workload.env.A',
    ],
    ['NUL in a workload command word', { workload: { command: ['a', '\u0000'] } }, 'workload.command[1]'],
    ['a line break in a key', { workload: { env: { 'A\nB': 'x' } } }, 'workload.env.A\\u000aB'],
  ])('refuses %s, naming the field', (_what, value, field) => {
    expect(inspectJson(value, '(body)')).toEqual([
      { field, rule: 'control_character', message: expect.stringContaining(field) },
    ]);
  });

  it('names the code point it found', () => {
    expect(inspectJson({ name: 'a\u0000' }, '(body)')[0].message).toContain('U+0000');
  });

  it.each([
    ['__proto__ at the top', '{"name": "x", "__proto__": {"admin": true}}', '__proto__'],
    ['constructor at the top', '{"constructor": {"prototype": {}}}', 'constructor'],
    ['__proto__ nested', '{"workload": {"env": {"__proto__": "x"}}}', 'workload.env.__proto__'],
    ['prototype in an array element', '{"offers": [{"prototype": 1}]}', 'offers[0].prototype'],
  ])('refuses %s as an unknown field', (_what, raw, field) => {
    expect(inspectJson(JSON.parse(raw), '(body)')).toEqual([
      { field, rule: 'unknown_field', message: expect.stringContaining('should not exist') },
    ]);
  });

  it('reports every problem in document order, at most 20', () => {
    const problems = inspectJson({ a: '\u0000', b: ['\u0001'], c: { d: '\u0002' } }, '(body)');
    expect(problems.map((p) => p.field)).toEqual(['a', 'b[0]', 'c.d']);
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, '\u0000']));
    expect(inspectJson(many, '(body)')).toHaveLength(20);
  });

  it('applies the multiline exceptions only where asked', () => {
    expect(inspectJson({ message: 'a\nb' }, '(query)', { multilineFields: [] })).toEqual([
      expect.objectContaining({ field: 'message', rule: 'control_character' }),
    ]);
  });

  it('leaves the value it inspects unchanged', () => {
    const value = { a: [{ b: 'x\u0000' }], __proto__x: 1 };
    const copy = structuredClone(value);
    inspectJson(value, '(body)');
    expect(value).toEqual(copy);
  });
});

describe('controlCharacterProblem', () => {
  it('accepts clean text and names the field otherwise', () => {
    expect(controlCharacterProblem('id', '3f0c-…')).toBeNull();
    expect(controlCharacterProblem('id', 'a\u0000')).toEqual({
      field: 'id',
      rule: 'control_character',
      message: 'id must not contain control characters (found U+0000)',
    });
    expect(controlCharacterProblem('message', 'a\nb', true)).toBeNull();
  });
});
