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
): LogRecord[] {
  const out = [
    rec({
      event_id: `c-${id}`,
      type: 'order.created',
      occurred_at: iso(T0),
      order_id: id,
      store_id: 's1',
      destination: { lat: 48.85, lng: 2.35 },
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
