import { readFileSync } from 'node:fs';
import type { Static, TObject, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';

/**
 * Configuration: schema defaults, then a config file (YAML or JSON), then `ETASERVE_*` environment variables.
 * Each leaf's variable is `ETASERVE_<SECTION>_<KEY>` (the `platform` section drops its section name), unless the
 * leaf's schema names its own with `env`. The schema is the one source of defaults, variables and docs.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Highest precedence: values set by CLI flags. */
  overrides?: Record<string, unknown>;
}

interface Leaf {
  path: string[];
  schema: TSchema & Record<string, unknown>;
  env: string;
}

const snake = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

export function configLeaves(schema: TObject): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (node: TSchema & Record<string, unknown>, path: string[]): void => {
    const props = node.properties as Record<string, TSchema & Record<string, unknown>> | undefined;
    if (node.type === 'object' && props) {
      for (const [key, child] of Object.entries(props)) walk(child, [...path, key]);
      return;
    }
    const named = path[0] === 'platform' ? path.slice(1) : path;
    const env = typeof node.env === 'string' ? node.env : `ETASERVE_${named.map(snake).join('_')}`;
    leaves.push({ path, schema: node, env });
  };
  walk(schema as unknown as TSchema & Record<string, unknown>, []);
  return leaves;
}

function parseEnvValue(raw: string, schema: Record<string, unknown>): unknown {
  const type = schema.type;
  if (type === 'integer' || type === 'number') {
    const n = Number(raw);
    return raw.trim() === '' || Number.isNaN(n) ? raw : n;
  }
  if (type === 'boolean') {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    return raw;
  }
  if (type === 'array') {
    const itemType = (schema.items as Record<string, unknown> | undefined)?.type;
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => (itemType === 'number' || itemType === 'integer' ? Number(s) : s));
  }
  return raw;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function getPath(source: unknown, path: string[]): unknown {
  let node = source;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function deepMerge(base: Record<string, unknown>, top: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(top)) {
    const prev = out[key];
    const bothObjects =
      typeof prev === 'object' &&
      prev !== null &&
      !Array.isArray(prev) &&
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value);
    out[key] = bothObjects
      ? deepMerge(prev as Record<string, unknown>, value as Record<string, unknown>)
      : value;
  }
  return out;
}

/** "an integer from 0 to 65535", "one of sqlite, postgres": what the schema expects, in words. */
export function describeExpected(schema: Record<string, unknown>): string {
  const anyOf = schema.anyOf as Record<string, unknown>[] | undefined;
  if (anyOf && anyOf.every((s) => 'const' in s))
    return `one of ${anyOf.map((s) => String(s.const)).join(', ')}`;
  const range = (): string => {
    const { minimum: min, maximum: max } = schema as { minimum?: number; maximum?: number };
    if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
    if (min !== undefined) return ` of at least ${min}`;
    if (max !== undefined) return ` of at most ${max}`;
    return '';
  };
  switch (schema.type) {
    case 'integer':
      return `an integer${range()}`;
    case 'number':
      return `a number${range()}`;
    case 'boolean':
      return 'true or false';
    case 'string':
      return typeof schema.pattern === 'string' ? `a string matching ${schema.pattern}` : 'a string';
    case 'array':
      return 'a list';
    default:
      return 'a valid value';
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`config: cannot read config file ${file}: ${(e as Error).message}`);
  }
  try {
    const parsed: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('the top level must be a mapping');
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(
      `config: ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`,
    );
  }
}

export function loadConfig<S extends TObject>(schema: S, options: LoadConfigOptions = {}): Static<S> {
  const leaves = configLeaves(schema);
  const sources = new Map<string, string>();
  let merged: Record<string, unknown> = {};
  let fromFile: Record<string, unknown> = {};
  if (options.file) {
    fromFile = readConfigFile(options.file);
    merged = fromFile;
    for (const leaf of leaves)
      if (getPath(merged, leaf.path) !== undefined) sources.set(leaf.path.join('.'), `file ${options.file}`);
  }
  const env = options.env ?? process.env;
  for (const leaf of leaves) {
    const raw = env[leaf.env];
    if (raw === undefined) continue;
    setPath(merged, leaf.path, parseEnvValue(raw, leaf.schema));
    sources.set(leaf.path.join('.'), leaf.env);
  }
  if (options.overrides) merged = deepMerge(merged, options.overrides);

  const known = new Set(leaves.map((l) => l.path.join('.')));
  const unknown = listPaths(merged).find(
    (p) => !known.has(p) && ![...known].some((k) => k.startsWith(`${p}.`)),
  );
  if (unknown) {
    const from = getPath(fromFile, unknown.split('.')) !== undefined ? ` (from file ${options.file})` : '';
    throw new ConfigError(`config: unknown key ${unknown}${from}`);
  }

  const value = Value.Default(schema, merged) as Record<string, unknown>;
  const errors = Value.Errors(schema, value);
  const first = errors[0];
  if (first) {
    const path = first.instancePath.split('/').filter(Boolean);
    const key = path.join('.');
    const leaf = leaves.find((l) => l.path.join('.') === key);
    const got = getPath(value, path);
    const from = sources.get(key);
    const expected = leaf ? describeExpected(leaf.schema) : first.message;
    throw new ConfigError(
      `config: ${key} = ${JSON.stringify(got)}${from ? ` (from ${from})` : ''} is invalid: expected ${expected}`,
    );
  }
  return value as Static<S>;
}

function listPaths(value: unknown, prefix: string[] = []): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return prefix.length ? [prefix.join('.')] : [];
  return Object.entries(value).flatMap(([k, v]) => listPaths(v, [...prefix, k]));
}
