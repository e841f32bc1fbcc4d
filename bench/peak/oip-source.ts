/**
 * Load generator source: the peer's payloads (`payload_single.jsonl`, `payload_batch50.jsonl`) turned into Open
 * Inference Protocol v2 bodies for `POST /v2/models/{name}/infer`, the 16 features in the peer's features.json order:
 *   {"inputs":[{"name":"input-0","shape":[N,16],"datatype":"FP32","data":[...N x 16 row-major...]}]}
 * Options: { file: string, featuresFile: string }. Bodies are built once and cycled.
 */
import { readFileSync } from 'node:fs';
import type { LoadRequest, RequestSource } from '../loadgen/index.js';

type Order = Record<string, number>;

export function featureOrder(featuresFile: string): string[] {
  const spec = JSON.parse(readFileSync(featuresFile, 'utf8')) as {
    features: { name: string; index: number }[];
  };
  return [...spec.features].sort((a, b) => a.index - b.index).map((f) => f.name);
}

/** One OIP v2 infer body for these orders. */
export function oipBody(orders: Order[], names: string[]): string {
  const data: number[] = [];
  for (const o of orders) {
    for (const n of names) {
      const v = o[n];
      if (typeof v !== 'number') throw new Error(`order lacks numeric feature ${n}`);
      data.push(v);
    }
  }
  return JSON.stringify({
    inputs: [{ name: 'input-0', shape: [orders.length, names.length], datatype: 'FP32', data }],
  });
}

export function createSource(options: Record<string, unknown>): RequestSource {
  const file = options['file'];
  const featuresFile = options['featuresFile'];
  if (typeof file !== 'string' || typeof featuresFile !== 'string') {
    throw new Error('oip-source needs options { file, featuresFile }');
  }
  const names = featureOrder(featuresFile);
  const requests: LoadRequest[] = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((line) => {
      const parsed = JSON.parse(line) as Order | { orders: Order[] };
      const orders = 'orders' in parsed && Array.isArray(parsed.orders) ? parsed.orders : [parsed as Order];
      return { body: Buffer.from(oipBody(orders, names)), items: orders.length };
    });
  let i = 0;
  return {
    next() {
      const r = requests[i]!;
      i = i + 1 === requests.length ? 0 : i + 1;
      return r;
    },
  };
}
