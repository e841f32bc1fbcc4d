import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { LoadRequest, RequestSource, SourceFactory, SourceSpec } from './types.js';

/** Cycles pre-encoded request bodies, one per JSONL line, in file order. */
export function jsonlSource(file: string, itemsField?: string): RequestSource {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error(`no request bodies in ${file}`);
  const requests: LoadRequest[] = lines.map((line, n) => {
    const req: LoadRequest = { body: Buffer.from(line) };
    if (itemsField) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (err) {
        throw new Error(`${file}:${n + 1} is not JSON`, { cause: err });
      }
      const field = (parsed as Record<string, unknown>)[itemsField];
      if (!Array.isArray(field)) throw new Error(`${file}:${n + 1} has no array field "${itemsField}"`);
      req.items = field.length;
    }
    return req;
  });
  let i = 0;
  return {
    next(): LoadRequest {
      const r = requests[i]!;
      i = i + 1 === requests.length ? 0 : i + 1;
      return r;
    },
  };
}

/** A request source without a body (GET-style load). */
export function emptySource(): RequestSource {
  const req: LoadRequest = {};
  return { next: () => req };
}

export async function loadSource(spec: SourceSpec | undefined): Promise<RequestSource> {
  if (!spec) return emptySource();
  if (spec.kind === 'jsonl') return jsonlSource(spec.file, spec.itemsField);
  const mod = (await import(pathToFileURL(spec.module).href)) as {
    createSource?: SourceFactory;
    default?: SourceFactory;
  };
  const factory = mod.createSource ?? mod.default;
  if (typeof factory !== 'function') {
    throw new Error(`${spec.module} exports neither createSource nor a default source factory`);
  }
  return factory(spec.options ?? {});
}
