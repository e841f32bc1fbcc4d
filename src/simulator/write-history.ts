import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { SimulatedStore } from './city.js';
import type { SimulatedHistory } from './history.js';

const ORDER_COLUMNS = [
  'order_id',
  'store_id',
  'rider_id',
  'dest_lat',
  'dest_lng',
  'items',
  'subtotal',
  'created_at_ms',
  'accepted_at_ms',
  'ready_at_ms',
  'picked_up_at_ms',
  'delivered_at_ms',
  'cancelled',
  'cancelled_at_ms',
];

/** Streams, so a long history never sits in memory twice as text. */
async function writeLines(file: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(file);
  for (const line of lines) if (!out.write(line)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

const cell = (v: number | string | null | boolean): string => (v === null ? '' : String(v));

/** stores.jsonl (catalog entries, as the store API and `stores import` take them), orders.csv (every timestamp, empty when never reached), rider_pings.csv. */
export async function writeHistory(
  dir: string,
  history: SimulatedHistory,
  /** A store as one line of stores.jsonl: the caller's (the CLI passes the store API's shape, which import reads). */
  storeJson: (store: SimulatedStore) => unknown,
): Promise<{ stores: number; orders: number; pings: number }> {
  await mkdir(dir, { recursive: true });
  await writeLines(
    path.join(dir, 'stores.jsonl'),
    history.stores.map((s) => `${JSON.stringify(storeJson(s))}\n`),
  );
  await writeLines(path.join(dir, 'orders.csv'), orderLines(history));
  await writeLines(path.join(dir, 'rider_pings.csv'), pingLines(history));
  return { stores: history.stores.length, orders: history.orders.length, pings: history.riderPings.count };
}

function* orderLines(history: SimulatedHistory): Generator<string> {
  yield `${ORDER_COLUMNS.join(',')}\n`;
  for (const o of history.orders) {
    yield `${[
      o.order_id,
      o.store_id,
      o.rider_id,
      o.destination.lat,
      o.destination.lng,
      o.items,
      o.subtotal,
      o.created_at_ms,
      o.accepted_at_ms,
      o.ready_at_ms,
      o.picked_up_at_ms,
      o.delivered_at_ms,
      o.cancelled,
      o.cancelled_at_ms,
    ]
      .map(cell)
      .join(',')}\n`;
  }
}

function* pingLines(history: SimulatedHistory): Generator<string> {
  const p = history.riderPings;
  yield 'rider_id,at_ms,lat,lng,available\n';
  for (let i = 0; i < p.count; i++)
    yield `${p.riderIds[p.rider[i]!]},${p.atMs[i]},${p.lat[i]},${p.lng[i]},${p.available[i]}\n`;
}
