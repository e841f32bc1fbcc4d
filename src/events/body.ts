import { EtaError } from '../platform/index.js';

/**
 * A `POST /v1/events` body split into its events: each parsed value (or why its NDJSON line is not JSON), and where
 * its bytes are in the body, so validation knows each event's size and the log can store the bytes as received.
 */
export interface EventBatch {
  body: Buffer;
  values: unknown[];
  /** Per event, why its line is not JSON; absent when every value parsed. */
  errors?: Array<string | undefined>;
  start: Uint32Array;
  /** 0 when the bytes of event i are not known. */
  end: Uint32Array;
  /** The body names `__proto__` or `constructor` somewhere: events are checked for those keys one by one. */
  suspect: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const NEWLINE = 0x0a;

// The same test fastify's JSON parser (secure-json-parse) makes before it looks for prototype poisoning.
const SUSPECT =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:|"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** The index just past the string that opens at `at` (a quote). */
function skipString(body: Buffer, at: number): number {
  let q = body.indexOf(QUOTE, at + 1);
  for (;;) {
    if (q < 0) return body.length;
    let slashes = 0;
    while (body[q - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    q = body.indexOf(QUOTE, q + 1);
  }
}

/** A JSON array of events. One parse of the whole body, then one pass over its bytes for each element's range. */
export function parseJsonArrayBody(body: Buffer): EventBatch {
  const text = body.toString('utf8');
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (e) {
    throw new EtaError('invalid_json', `request body is not valid JSON: ${(e as Error).message}`, {
      field: 'body',
    });
  }
  if (!Array.isArray(values)) {
    throw new EtaError(
      'bad_request',
      'the body is a JSON array of events, or NDJSON with content-type application/x-ndjson',
      { field: 'body' },
    );
  }
  const start = new Uint32Array(values.length);
  const end = new Uint32Array(values.length);
  if (!elementRanges(body, start, end)) end.fill(0);
  return { body, values, start, end, suspect: SUSPECT.test(text) };
}

/**
 * The byte range of each top-level element of a valid JSON array, trimmed of white space. False if the count
 * disagrees with the parse (it cannot, for a body JSON.parse accepted; then nothing is reused rather than wrong).
 */
function elementRanges(body: Buffer, start: Uint32Array, end: Uint32Array): boolean {
  let i = body.indexOf(OPEN_BRACKET) + 1;
  let depth = 0;
  let n = 0;
  let from = -1;
  let last = -1;
  for (; i < body.length; i++) {
    const c = body[i]!;
    if (c === QUOTE) {
      if (from < 0) from = i;
      i = skipString(body, i) - 1;
      last = i;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (from < 0) from = i;
      depth++;
      last = i;
    } else if (depth > 0 && (c === CLOSE_BRACE || c === CLOSE_BRACKET)) {
      depth--;
      last = i;
    } else if (depth === 0 && (c === COMMA || c === CLOSE_BRACKET)) {
      if (from >= 0) {
        if (n >= start.length) return false;
        start[n] = from;
        end[n++] = last + 1;
      }
      from = -1;
      if (c === CLOSE_BRACKET) break;
    } else if (!isSpace(c)) {
      if (from < 0) from = i;
      last = i;
    }
  }
  return n === start.length;
}

/** NDJSON: one event a line; blank lines are skipped, and a line that is not JSON is rejected alone. */
export function parseNdjsonBody(body: Buffer): EventBatch {
  const values: unknown[] = [];
  const errors: Array<string | undefined> = [];
  const ranges: number[] = [];
  let anyError = false;
  let suspect = false;
  for (let at = 0; at < body.length;) {
    let nl = body.indexOf(NEWLINE, at);
    if (nl < 0) nl = body.length;
    let s = at;
    let e = nl;
    while (s < e && isSpace(body[s]!)) s++;
    while (e > s && isSpace(body[e - 1]!)) e--;
    at = nl + 1;
    if (s === e) continue;
    const line = body.toString('utf8', s, e);
    try {
      values.push(JSON.parse(line));
      errors.push(undefined);
    } catch (err) {
      values.push(undefined);
      errors.push((err as Error).message);
      anyError = true;
    }
    if (!suspect && SUSPECT.test(line)) suspect = true;
    ranges.push(s, e);
  }
  const start = new Uint32Array(values.length);
  const end = new Uint32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    start[i] = ranges[2 * i]!;
    end[i] = ranges[2 * i + 1]!;
  }
  return { body, values, ...(anyError ? { errors } : {}), start, end, suspect };
}

/**
 * Whether a parsed value carries a key that could poison a prototype when copied (as fastify refuses them): an own
 * `__proto__`, or an own `constructor` holding an own `prototype`. An explicit stack, not recursion, so any depth the
 * body limit allows is walked without overflowing the call stack; keys are read as own data only.
 */
export function poisoned(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    if (Object.hasOwn(node, '__proto__')) return true;
    if (Object.hasOwn(node, 'constructor')) {
      const ctor = (node as Record<string, unknown>).constructor;
      if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) return true;
    }
    for (const key of Object.keys(node)) stack.push((node as Record<string, unknown>)[key]);
  }
  return false;
}

/**
 * How deeply `value` nests (a scalar is 0, `{}` is 1), counted without recursion and given up past `limit`: then
 * `limit + 1`. Events are flat but for a few small objects, so anything deep is refused before any recursive code
 * (JSON.stringify, the log, projections) meets it.
 */
export function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    const here = depth + 1;
    if (here > limit) return limit + 1;
    if (here > deepest) deepest = here;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push([child, here]);
  }
  return deepest;
}
