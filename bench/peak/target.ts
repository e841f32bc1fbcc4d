import { readFileSync } from 'node:fs';
import { request } from 'undici';
import type { SourceSpec } from '../loadgen/index.js';
import { loadSource } from '../loadgen/source.js';

/** One endpoint to drive: where, and with which bodies. */
export interface Target {
  url: string;
  path: string;
  source: SourceSpec;
  headers?: Record<string, string>;
  rowsPerRequest: number;
}

/** Sends the target's first body once and checks for a 2xx JSON answer, so a wrong body fails loudly, not as load. */
export async function probe(target: Target): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const src = await loadSource(target.source);
    const req = src.next();
    const res = await request(target.url + (req.path ?? target.path), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers, ...req.headers },
      body: req.body ?? null,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      return { ok: false, reason: `${target.path} answered ${res.statusCode}: ${text.slice(0, 300)}` };
    }
    JSON.parse(text);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `${target.path}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}
