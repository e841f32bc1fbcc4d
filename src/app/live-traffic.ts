import { Pool } from 'undici';
import type { Logger } from '../platform/index.js';
import { buildCity, LiveCity } from '../simulator/index.js';
import type { AppConfig } from './config.js';

/**
 * The demo's simulated customers: ETA requests from the same city as the history, sent through the public API
 * like any app would, so the metrics and the console move. Returns a stop function.
 */
export function startLiveTraffic(config: AppConfig, baseUrl: string, apiKey: string, logger: Logger): () => void {
  const pool = new Pool(baseUrl, { connections: 8 });
  const city = buildCity({ seed: config.simulator.seed, stores: config.simulator.stores });
  let failures = 0;
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
      await res.body.dump();
    },
    {
      ratePerSecond: config.simulator.liveRequestsPerSecond,
      onError: (e) => {
        if (failures++ % 100 === 0) logger.warn({ err: e }, 'simulated traffic: a request failed');
      },
    },
  );
  live.start();
  logger.info({ ratePerSecond: config.simulator.liveRequestsPerSecond }, 'simulated city traffic started');
  return () => {
    live.stop();
    void pool.close();
  };
}
