import { Pool } from 'undici';
import type { Logger } from '../platform/index.js';
import { buildCity, LiveCity, LiveEvents, type QuotedEta, type SimEvent } from '../simulator/index.js';
import type { AppConfig } from './config.js';

/** Simulated kitchens and rides run this many times faster than the clock in the demo (docs/events.md). */
const LIVE_EVENT_TIME_COMPRESSION = 10;

/**
 * The demo's simulated customers: ETA requests from the same city as the history, sent through the public API
 * like any app would, so the metrics and the console move. Some quotes become orders whose lifecycle events go
 * back through POST /v1/events, time-compressed, so online accuracy shows within minutes. Returns a stop function.
 */
export function startLiveTraffic(
  config: AppConfig,
  baseUrl: string,
  apiKey: string,
  logger: Logger,
): () => void {
  const pool = new Pool(baseUrl, { connections: 8 });
  const city = buildCity({ seed: config.simulator.seed, stores: config.simulator.stores });
  let failures = 0;
  const headers = { authorization: `Bearer ${apiKey}` };
  const events = new LiveEvents(
    city,
    async (batch: SimEvent[]) => {
      const res = await pool.request({
        method: 'POST',
        path: '/v1/events',
        headers: { ...headers, 'content-type': 'application/x-ndjson' },
        body: batch.map((e) => JSON.stringify(e)).join('\n'),
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`POST /v1/events answered ${res.statusCode}`);
    },
    {
      timeCompression: LIVE_EVENT_TIME_COMPRESSION,
      // Orders at about a busy hour of the history's rate: more would overload the simulated kitchens.
      orderShare: Math.min(
        1,
        (3 * config.simulator.ordersPerDay) / 86_400 / Math.max(1, config.simulator.liveRequestsPerSecond),
      ),
    },
  );
  const live = new LiveCity(
    city,
    async (req) => {
      const res = await pool.request({
        method: 'POST',
        path: '/v1/eta',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({
          store_id: req.storeId,
          destination: req.destination,
          items: req.items,
          subtotal: Math.round(req.subtotal * 100) / 100,
          ordered_at: new Date(req.atMs).toISOString(),
        }),
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return;
      }
      events.quoted(req, (await res.body.json()) as QuotedEta);
    },
    {
      ratePerSecond: config.simulator.liveRequestsPerSecond,
      onError: (e) => {
        if (failures++ % 100 === 0) logger.warn({ err: e }, 'simulated traffic: a request failed');
      },
    },
  );
  live.start();
  events.start();
  logger.info({ ratePerSecond: config.simulator.liveRequestsPerSecond }, 'simulated city traffic started');
  return () => {
    live.stop();
    events.stop();
    void pool.close();
  };
}
