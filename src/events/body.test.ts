import { describe, expect, it } from 'vitest';
import { nestingDepth, parseJsonArrayBody, parseNdjsonBody, poisoned } from './body.js';

const slices = (b: { body: Buffer; start: Uint32Array; end: Uint32Array }): string[] =>
  Array.from(b.start, (s, i) => b.body.toString('utf8', s, b.end[i]));

describe('request bodies split into events', () => {
  it('finds the bytes of each element of a JSON array, whatever the spacing and nesting', () => {
    const elements = [
      '{"event_id":"a","note":"brackets ] } [ { and , commas in a string"}',
      '{"event_id":"b","escaped":"a \\"quoted\\" \\\\ word\\\\","nested":{"list":[1,[2,{"x":"]"}]]}}',
      '"not an object"',
      '42',
      '{"event_id":"c","city":"Zürich → Genève 東京"}',
      'null',
      '[1,2]',
    ];
    const text = `\n  [ ${elements.join(' ,\n\t')}\n]  \n`;
    const batch = parseJsonArrayBody(Buffer.from(text));
    expect(batch.values).toEqual(elements.map((e) => JSON.parse(e) as unknown));
    expect(slices(batch)).toEqual(elements);
    expect(batch.suspect).toBe(false);
  });

  it('refuses a body that is not JSON, or not an array, with the field named', () => {
    expect(() => parseJsonArrayBody(Buffer.from('[{"event_id":'))).toThrow(
      expect.objectContaining({ code: 'invalid_json', field: 'body' }),
    );
    expect(() => parseJsonArrayBody(Buffer.from('{"event_id":"a"}'))).toThrow(
      expect.objectContaining({ code: 'bad_request', field: 'body' }),
    );
    expect(parseJsonArrayBody(Buffer.from('[]')).values).toEqual([]);
  });

  it('splits NDJSON by line, skipping blank lines and keeping a broken line as an error of its own', () => {
    const batch = parseNdjsonBody(
      Buffer.from('{"event_id":"a"}\r\n\n  \n{"event_id": broken\n {"event_id":"b"} '),
    );
    expect(batch.values).toEqual([{ event_id: 'a' }, undefined, { event_id: 'b' }]);
    expect(batch.errors?.map((e) => e !== undefined)).toEqual([false, true, false]);
    expect(slices(batch)).toEqual(['{"event_id":"a"}', '{"event_id": broken', '{"event_id":"b"}']);
  });

  it('flags prototype keys, escaped or not, so those events are refused', () => {
    const batch = parseJsonArrayBody(
      Buffer.from('[{"event_id":"a"},{"event_id":"b","x":{"\\u005f_proto__":{"admin":true}}}]'),
    );
    expect(batch.suspect).toBe(true);
    expect(batch.values.map(poisoned)).toEqual([false, true]);
    expect(poisoned(JSON.parse('{"constructor":{"prototype":{"admin":true}}}'))).toBe(true);
    expect(poisoned({ constructor: 'a string is harmless' })).toBe(false);
  });
});

describe('hostile nesting', () => {
  const deep = (depth: number, inner: string): string => '{"a":'.repeat(depth) + inner + '}'.repeat(depth);

  it('walks 100k levels without recursion, reading prototype keys as plain data', () => {
    const body = `[{"event_id":"a"},{"event_id":"b","x":${deep(100_000, '{"constructor":{"prototype":{"admin":true}}}')}}]`;
    const batch = parseJsonArrayBody(Buffer.from(body));
    expect(batch.suspect).toBe(true);
    expect(batch.values.map(poisoned)).toEqual([false, true]);
    // A `constructor` key that is data, at any depth, is not a poisoned prototype.
    expect(poisoned(JSON.parse(deep(100_000, '{"constructor":"string"}')))).toBe(false);
    expect(poisoned(JSON.parse(deep(100_000, '{"constructor":{"name":"x"}}')))).toBe(false);
  });

  it('measures nesting without recursion, giving up past the limit', () => {
    expect(nestingDepth(42, 32)).toBe(0);
    expect(nestingDepth({ a: 1, b: [1, { c: 2 }] }, 32)).toBe(3);
    expect(nestingDepth(JSON.parse(deep(100_000, '1')), 32)).toBe(33);
    expect(nestingDepth(JSON.parse(`[${'['.repeat(50_000)}${']'.repeat(50_000)}]`), 32)).toBe(33);
  });
});
