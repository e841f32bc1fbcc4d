import { describe, expect, it } from 'vitest';
import type { EtaEvent, LogRecord } from '../../events/index.js';
import { AccuracyJoin } from './join.js';

const T0 = Date.parse('2026-01-05T12:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();
let offset = 0;
const rec = (event: Record<string, unknown>): LogRecord => ({
  offset: String(offset++),
  ingestedAtMs: T0,
  event: event as EtaEvent,
});

function order(
  id: string,
  version: string,
  quoted: number,
  range: [number, number],
  promisedAfter: number,
  actual: number | null,
  destination = { lat: 48.85, lng: 2.35 },
): LogRecord[] {
  const out = [
    rec({
      event_id: `c-${id}`,
      type: 'order.created',
      occurred_at: iso(T0),
      order_id: id,
      store_id: 's1',
      destination,
      items: 1,
      subtotal: 10,
      quoted_eta_seconds: quoted,
      quoted_range_seconds: range,
      promised_at: iso(T0 + promisedAfter * 1000),
      model_version: version,
    }),
  ];
  if (actual !== null)
    out.push(
      rec({
        event_id: `d-${id}`,
        type: 'order.delivered',
        occurred_at: iso(T0 + actual * 1000),
        order_id: id,
        store_id: 's1',
      }),
    );
  return out;
}

describe('AccuracyJoin', () => {
  it('computes MAE, bias, range coverage and on-time share per model version', () => {
    const join = new AccuracyJoin({ windowMs: 3_600_000, now: () => T0 + 1_800_000 });
    join.apply([
      ...order('a', 'v1', 1800, [1500, 2100], 2000, 1700), // error +100, covered, on time
      ...order('b', 'v1', 1800, [1500, 2100], 2000, 2200), // error -400, not covered, late
      ...order('c', 'v2', 1200, [1000, 1500], 1400, 1300), // error -100, covered, on time
      ...order('d', 'v2', 1200, [1000, 1500], 1400, null), // not delivered yet
    ]);
    join.apply([
      rec({
        event_id: 'x',
        type: 'order.delivered',
        occurred_at: iso(T0 + 1000),
        order_id: 'unknown',
        store_id: 's1',
      }),
    ]);
    const s = join.summary();
    expect(s.overall).toEqual({
      deliveries: 3,
      mae_seconds: 200,
      bias_seconds: -133.3,
      coverage_ratio: 0.6667,
      on_time_ratio: 0.6667,
    });
    const v1 = s.by_model_version.find((v) => v.model_version === 'v1')!;
    expect(v1).toMatchObject({
      deliveries: 2,
      mae_seconds: 250,
      bias_seconds: -150,
      coverage_ratio: 0.5,
      on_time_ratio: 0.5,
    });
    expect(v1.window.deliveries).toBe(2);
    expect(s.by_hour).toEqual([
      {
        hour: '2026-01-05T12',
        deliveries: 3,
        mae_seconds: 200,
        bias_seconds: -133.3,
        coverage_ratio: 0.6667,
        on_time_ratio: 0.6667,
      },
    ]);
    expect(s.by_zone).toHaveLength(1);
    expect(s.pending_orders).toBe(1);
    expect(s.unmatched_deliveries).toBe(1);
    // What the console plots as predicted against actual, in the order the deliveries arrived.
    expect(s.pairs).toEqual([
      { predicted_s: 1800, actual_s: 1700, model_version: 'v1' },
      { predicted_s: 1800, actual_s: 2200, model_version: 'v1' },
      { predicted_s: 1200, actual_s: 1300, model_version: 'v2' },
    ]);
  });

  it('ignores cancelled orders and counts a repeated delivery once', () => {
    const join = new AccuracyJoin({ windowMs: 3_600_000, now: () => T0 + 1_800_000 });
    const a = order('a', 'v1', 1800, [1500, 2100], 2000, 1700);
    join.apply([
      ...order('b', 'v1', 900, [800, 1000], 1000, null),
      rec({
        event_id: 'cx',
        type: 'order.cancelled',
        occurred_at: iso(T0 + 60_000),
        order_id: 'b',
        store_id: 's1',
      }),
    ]);
    join.apply([...a, a[1]!]);
    const s = join.summary();
    expect(s.overall.deliveries).toBe(1);
    expect(s.pending_orders).toBe(0);
  });

  it('keeps only recent deliveries in the windowed gauges', () => {
    let now = T0 + 1_800_000;
    const join = new AccuracyJoin({ windowMs: 3_600_000, now: () => now });
    join.apply(order('a', 'v1', 1800, [1500, 2100], 2000, 1700));
    expect(join.windowByVersion().get('v1')?.deliveries).toBe(1);
    now += 2 * 3_600_000;
    expect(join.windowByVersion().size).toBe(0);
    expect(join.summary().overall.deliveries).toBe(1);
  });
});

/** What a predictor logs for a shadowed request (src/predictor/rollout.ts, eventLogShadowSink). */
function shadowed(
  id: string,
  at: number,
  served: { version: string; p50: number; p10?: number; p90?: number },
  shadow: { version: string; p50: number; p10?: number; p90?: number },
  destination = { lat: 48.85, lng: 2.35 },
): LogRecord {
  return rec({
    event_id: `s-${id}`,
    type: 'app.shadow_prediction',
    occurred_at: iso(at),
    store_id: 's1',
    ordered_at: iso(at),
    destination,
    // A model without a range logs NaN, which JSON carries as null.
    served: { p10: null, p90: null, ...served },
    shadow: { p10: null, p90: null, ...shadow },
  });
}

describe('AccuracyJoin with shadow predictions', () => {
  it('scores the challenger’s shadow answers against the same deliveries as the champion’s', () => {
    const join = new AccuracyJoin({ windowMs: 3_600_000, now: () => T0 + 1_800_000 });
    const v1 = (p50: number) => ({ version: 'v1', p50, p10: p50 - 300, p90: p50 + 300 });
    const v2 = (p50: number) => ({ version: 'v2', p50, p10: p50 - 100, p90: p50 + 100 });
    join.apply([
      // Quoted a few seconds before each order is created, as at a checkout.
      shadowed('a', T0 - 5_000, v1(1800), v2(1650)),
      ...order('a', 'v1', 1800, [1500, 2100], 2000, 1700), // v1 +100, v2 −50 (covered by both)
    ]);
    // The order of the next request is logged before its shadow prediction: still joined.
    const [createdB, deliveredB] = order('b', 'v1', 1800, [1500, 2100], 2000, 2200);
    join.apply([
      createdB!,
      shadowed('b', T0 + 3_000, v1(1800), { version: 'v2', p50: 2000 }),
      deliveredB!, // v1 −400 (not covered), v2 −200 (no range)
    ]);
    const s = join.summary();
    const row = (model: string, against: string) =>
      s.shadow_by_model_version.find((r) => r.model_version === model && r.compared_with === against);
    expect(row('v1', 'v2')).toMatchObject({
      deliveries: 2,
      mae_seconds: 250,
      bias_seconds: -150,
      coverage_ratio: 0.5,
      window: { deliveries: 2, mae_seconds: 250 },
    });
    expect(row('v2', 'v1')).toMatchObject({
      deliveries: 2,
      mae_seconds: 125,
      bias_seconds: -125,
      coverage_ratio: 1,
      window: { deliveries: 2, mae_seconds: 125 },
    });
    // What the promotion policy reads: the challenger's shadow MAE next to the champion's, on the same orders.
    expect(join.shadowComparison('v1', 'v2')).toEqual({ samples: 2, championMaeS: 250, challengerMaeS: 125 });
    expect(join.shadowComparison('v1', 'v3')).toBeUndefined();
    // The served side of the join is unchanged: the quoted ETAs of the orders.
    expect(s.by_model_version.map((v) => v.model_version)).toEqual(['v1']);
    expect(s.shadow_quotes_pending).toBe(0);
  });

  it('counts canary orders (the challenger served, the champion in shadow) in the same comparison', () => {
    const elsewhere = { lat: 48.9, lng: 2.3 };
    const join = new AccuracyJoin({ windowMs: 3_600_000, now: () => T0 + 1_800_000 });
    join.apply([
      shadowed('a', T0, { version: 'v1', p50: 1900 }, { version: 'v2', p50: 1750 }),
      ...order('a', 'v1', 1900, [1500, 2100], 2000, 1700), // v1 200, v2 50
      shadowed('c', T0, { version: 'v2', p50: 1200 }, { version: 'v1', p50: 1000 }, elsewhere),
      ...order('c', 'v2', 1200, [1000, 1500], 1400, 1300, elsewhere), // v2 100, v1 300
    ]);
    expect(join.shadowComparison('v1', 'v2')).toEqual({ samples: 2, championMaeS: 250, challengerMaeS: 75 });
  });

  it('leaves a shadow prediction unmatched when no order of that store and destination follows in time', () => {
    const join = new AccuracyJoin({ windowMs: 3_600_000, now: () => T0 + 1_800_000 });
    join.apply([
      shadowed('far', T0 - 10 * 60_000, { version: 'v1', p50: 1800 }, { version: 'v2', p50: 1600 }),
      shadowed(
        'elsewhere',
        T0,
        { version: 'v1', p50: 1800 },
        { version: 'v2', p50: 1600 },
        {
          lat: 48.86,
          lng: 2.35,
        },
      ),
      ...order('a', 'v1', 1800, [1500, 2100], 2000, 1700),
    ]);
    const s = join.summary();
    expect(s.overall.deliveries).toBe(1);
    expect(s.shadow_by_model_version).toEqual([]);
    // The one from ten minutes before can never match any more and is forgotten; the other may still.
    expect(s.shadow_quotes_pending).toBe(1);
    expect(join.shadowComparison('v1', 'v2')).toBeUndefined();
  });
});
