import { afterEach, describe, expect, it } from 'vitest';
import { MemoryEventLog, type EtaEvent } from '../../events/index.js';
import { createLogger, createMetrics } from '../../platform/index.js';
import { startAccuracyProjection, type AccuracyProjection } from './projection.js';

const iso = (ms: number): string => new Date(ms).toISOString();
let projection: AccuracyProjection | undefined;

afterEach(async () => {
  await projection?.close();
  projection = undefined;
});

/** One order quoted by `served` at `at`, delivered `actualS` later; shadowed by `shadow` when given. */
function order(
  id: string,
  at: number,
  actualS: number,
  served: { version: string; p50: number },
  shadow?: { version: string; p50: number },
): EtaEvent[] {
  const destination = { lat: 48.85 + Number(id.slice(1)) * 1e-3, lng: 2.35 };
  const events: Array<Record<string, unknown>> = [];
  if (shadow)
    events.push({
      event_id: `s-${id}`,
      type: 'app.shadow_prediction',
      occurred_at: iso(at - 2_000),
      store_id: 's1',
      ordered_at: iso(at - 2_000),
      destination,
      served: { ...served, p10: served.p50 - 300, p90: served.p50 + 300 },
      shadow: { ...shadow, p10: shadow.p50 - 300, p90: shadow.p50 + 300 },
    });
  events.push(
    {
      event_id: `c-${id}`,
      type: 'order.created',
      occurred_at: iso(at),
      order_id: id,
      store_id: 's1',
      destination,
      items: 1,
      subtotal: 10,
      quoted_eta_seconds: served.p50,
      quoted_range_seconds: [served.p50 - 300, served.p50 + 300],
      promised_at: iso(at + (served.p50 + 300) * 1000),
      model_version: served.version,
    },
    {
      event_id: `d-${id}`,
      type: 'order.delivered',
      occurred_at: iso(at + actualS * 1000),
      order_id: id,
      store_id: 's1',
    },
  );
  return events as EtaEvent[];
}

async function project(events: EtaEvent[]): Promise<{ projection: AccuracyProjection; metrics: string }> {
  const log = new MemoryEventLog({ dedupeWindowMs: 60_000, dedupeMaxIds: 10_000 });
  await log.append(events);
  const { registry } = createMetrics();
  projection = startAccuracyProjection(log, {
    windowMinutes: 60,
    replayHours: 1,
    pollMs: 20,
    logger: createLogger({ level: 'silent' }),
    registry,
  });
  await projection.subscription.caughtUp();
  return { projection, metrics: await registry.metrics() };
}

describe('the accuracy projection', () => {
  it('exports the challenger’s shadow MAE next to the champion’s and hands the pair to the promotion policy', async () => {
    const t = Date.now() - 30 * 60_000;
    const { projection: p, metrics } = await project([
      ...order('o1', t, 1700, { version: 'v1', p50: 1800 }, { version: 'v2', p50: 1650 }),
      ...order('o2', t + 60_000, 2000, { version: 'v1', p50: 1800 }, { version: 'v2', p50: 1900 }),
      ...order('o3', t + 120_000, 1500, { version: 'v1', p50: 1800 }),
    ]);
    expect(metrics).toMatch(
      /^etaserve_online_shadow_mae_seconds\{model_version="v1",compared_with="v2"\} 150$/m,
    );
    expect(metrics).toMatch(
      /^etaserve_online_shadow_mae_seconds\{model_version="v2",compared_with="v1"\} 75$/m,
    );
    expect(metrics).toMatch(
      /^etaserve_online_shadow_deliveries_total\{model_version="v2",compared_with="v1"\} 2$/m,
    );
    expect(metrics).toMatch(
      /^etaserve_online_shadow_coverage_ratio\{model_version="v2",compared_with="v1"\} 1$/m,
    );
    // Served answers keep their own gauge: all three orders, quoted by v1.
    expect(metrics).toMatch(/^etaserve_online_mae_seconds\{model_version="v1"\} 200$/m);
    expect(p.comparison('v1', 'v2')).toEqual({ samples: 2, championMaeS: 150, challengerMaeS: 75 });
  });

  it('falls back to the canary’s own orders when no shadowed order was delivered', async () => {
    const t = Date.now() - 30 * 60_000;
    const { projection: p } = await project([
      ...order('o1', t, 1700, { version: 'v1', p50: 1800 }),
      ...order('o2', t, 1700, { version: 'v2', p50: 1750 }),
    ]);
    expect(p.comparison('v1', 'v2')).toEqual({ samples: 1, championMaeS: 100, challengerMaeS: 50 });
    expect(p.comparison('v1', undefined)).toBeUndefined();
  });
});
