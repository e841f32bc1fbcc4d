/**
 * Order lives as a load generator source module (bench/loadgen), for the live-ETA update latency:
 *   source: { kind: 'module', module: 'bench/orders/events-source.ts', options: { catalogFile, batch, runId } }
 *
 * Each request is a `POST /v1/events` batch of `batch` events, interleaving many orders' lives: created (with a
 * quote), accepted, rider assigned, ready, rider positions, picked up, more positions, delivered. Every event is new
 * (ids carry `runId`); times are the moment the request is built, so each event moves its order now.
 */
import { readFileSync } from 'node:fs';
import type { LoadRequest, RequestSource } from '../loadgen/index.js';
import type { CatalogStore } from '../peak/mix.js';

interface Options {
  /** The catalog as bench/peak/shapes.ts fetchCatalog writes it (a JSON array of `CatalogStore`). */
  catalogFile: string;
  batch?: number;
  runId?: string;
}

const LIFE = [
  'order.created',
  'order.accepted',
  'order.rider_assigned',
  'order.ready',
  'rider.location',
  'order.picked_up',
  'rider.location',
  'rider.location',
  'order.delivered',
] as const;

/** Orders whose lives are interleaved at once: each request advances several of them by one event. */
const IN_FLIGHT = 400;

export function createSource(raw: Record<string, unknown>): RequestSource {
  const options = raw as unknown as Options;
  const batch = options.batch ?? 10;
  const runId = options.runId ?? Date.now().toString(36);
  const stores = (JSON.parse(readFileSync(options.catalogFile, 'utf8')) as CatalogStore[]).map((s) => ({
    storeId: s.id,
    location: { lat: s.lat, lng: s.lng },
  }));
  if (stores.length === 0) throw new Error(`no stores in ${options.catalogFile}`);
  // Slot i carries one order at a time, at step[i] of its life.
  const step = new Int32Array(IN_FLIGHT);
  const order = new Int32Array(IN_FLIGHT);
  let nextOrder = 0;
  let slot = 0;
  let eventNo = 0;
  for (let i = 0; i < IN_FLIGHT; i++) order[i] = nextOrder++;

  const event = (i: number, nowIso: string, nowMs: number): string => {
    const n = order[i]!;
    const store = stores[(n * 7919) % stores.length]!;
    const orderId = `bo-${runId}-${n}`;
    const riderId = `br-${n % 5000}`;
    const type = LIFE[step[i]!]!;
    const id = `${runId}-${eventNo++}`;
    const base = `"event_id":"${id}","type":"${type}","occurred_at":"${nowIso}"`;
    const ids = `"order_id":"${orderId}","store_id":"${store.storeId}"`;
    const lat = store.location.lat + ((n % 17) - 8) * 0.002;
    const lng = store.location.lng + ((n % 13) - 6) * 0.002;
    if (type === 'order.created') {
      const promised = new Date(nowMs + 2_100_000).toISOString();
      return `{${base},${ids},"destination":{"lat":${lat},"lng":${lng}},"items":2,"subtotal":25,"quoted_eta_seconds":1800,"quoted_range_seconds":[1400,2400],"promised_at":"${promised}","model_version":"bench"}`;
    }
    if (type === 'rider.location') {
      const share = step[i]! / LIFE.length;
      const rLat = store.location.lat + (lat - store.location.lat) * share;
      const rLng = store.location.lng + (lng - store.location.lng) * share;
      return `{${base},"rider_id":"${riderId}","lat":${rLat.toFixed(6)},"lng":${rLng.toFixed(6)}}`;
    }
    return `{${base},${ids},"rider_id":"${riderId}"}`;
  };

  return {
    next(): LoadRequest {
      const nowMs = Date.now();
      const nowIso = new Date(nowMs).toISOString();
      const parts: string[] = [];
      for (let k = 0; k < batch; k++) {
        const i = slot;
        slot = (slot + 1) % IN_FLIGHT;
        parts.push(event(i, nowIso, nowMs));
        step[i]!++;
        if (step[i]! >= LIFE.length) {
          step[i] = 0;
          order[i] = nextOrder++;
        }
      }
      return { body: `[${parts.join(',')}]`, items: batch };
    },
  };
}
