/**
 * Request bodies for POST /v1/events, as a load generator source module:
 *   source: { kind: 'module', module: 'bench/ingest/source.ts', options: { batch: 500 } }
 *
 * A realistic mix (mostly rider positions, then app events, then the order lifecycle), every event_id unique in
 * the run so nothing is a cheap duplicate. Each event's body after its id is built once; next() only stitches ids.
 */
import type { LoadRequest, RequestSource } from '../loadgen/index.js';

export interface IngestSourceOptions {
  /** Events per request. Default 500. */
  batch?: number;
  /** Distinct event bodies cycled through (ids always differ). Default 5000. */
  pool?: number;
  /** Prefix of every event_id, so runs against the same log do not collide. */
  runId?: string;
  /**
   * Only the types the lake keeps (rider positions where the mix has app events): every accepted event becomes a
   * lake row, so a lake count says when the lake has caught up. Default false.
   */
  lakeOnly?: boolean;
}

function tails(pool: number, lakeOnly: boolean): string[] {
  const out: string[] = [];
  const now = Date.now();
  for (let i = 0; i < pool; i++) {
    const at = new Date(now - (i % 600) * 1000).toISOString();
    const lat = 48.8566 + ((i * 7919) % 1000) / 10_000 - 0.05;
    const lng = 2.3522 + ((i * 104_729) % 1000) / 10_000 - 0.05;
    const r = i % 20;
    let fields: Record<string, unknown>;
    if (r < 14 || (lakeOnly && r < 17))
      fields = {
        type: 'rider.location',
        occurred_at: at,
        rider_id: `r-${i % 800}`,
        lat,
        lng,
        available: i % 3 !== 0,
      };
    else if (r < 17)
      fields = {
        type: 'app.store_list_viewed',
        occurred_at: at,
        session_id: `sess-${i}`,
        store_id: `s-${String((i % 300) + 1).padStart(4, '0')}`,
      };
    else if (r === 17)
      fields = {
        type: 'order.created',
        occurred_at: at,
        order_id: `o-${i}`,
        store_id: `s-${String((i % 300) + 1).padStart(4, '0')}`,
        customer_id: `c-${i % 5000}`,
        destination: { lat, lng },
        items: 1 + (i % 4),
        subtotal: 12.5 + (i % 30),
        quoted_eta_seconds: 1800,
        quoted_range_seconds: [1400, 2400],
        promised_at: new Date(now + 1_980_000).toISOString(),
        model_version: 'v1',
      };
    else
      fields = {
        type: r === 18 ? 'order.accepted' : 'order.delivered',
        occurred_at: at,
        order_id: `o-${i - 1}`,
        store_id: `s-${String((i % 300) + 1).padStart(4, '0')}`,
      };
    out.push(JSON.stringify(fields).slice(1));
  }
  return out;
}

export function createSource(options: Record<string, unknown>): RequestSource {
  const o = options as IngestSourceOptions;
  const batch = o.batch ?? 500;
  const rest = tails(o.pool ?? 5000, o.lakeOnly ?? false);
  const runId = o.runId ?? Date.now().toString(36);
  let n = 0;
  let k = 0;
  return {
    next(): LoadRequest {
      const parts: string[] = new Array<string>(batch);
      for (let i = 0; i < batch; i++) {
        parts[i] = `{"event_id":"${runId}-${n}-${i}",${rest[k]!}`;
        k = (k + 1) % rest.length;
      }
      n++;
      return { body: `[${parts.join(',')}]`, items: batch };
    },
  };
}
