import { Type, type Static } from 'typebox';

/** The `orders` section. Variables are `ETASERVE_ORDERS_<KEY>` (`ETASERVE_ORDERS_LATE_RISK_THRESHOLD`). */
export const ordersConfigSchema = Type.Object(
  {
    port: Type.Integer({
      default: 8094,
      minimum: 0,
      maximum: 65_535,
      description: 'Port of the orders process when it runs as its own target (its internal API)',
    }),
    lateRiskThreshold: Type.Number({
      default: 0.5,
      minimum: 0.01,
      maximum: 0.99,
      description: 'P(late) at which an order.late_risk event is written (once per crossing)',
    }),
    lateRiskHysteresis: Type.Number({
      default: 0.1,
      minimum: 0,
      maximum: 0.5,
      description: 'P(late) must fall this far under the threshold before the order can alert again',
    }),
    maxShiftSecondsPerMinute: Type.Number({
      default: 120,
      minimum: 0,
      maximum: 3600,
      description:
        'Between stage changes, how many seconds the shown arrival time may move per minute of wall time (docs/orders.md)',
    }),
    deadbandSeconds: Type.Number({
      default: 15,
      minimum: 0,
      maximum: 600,
      description: 'A move of the shown arrival time smaller than this is not shown (jitter)',
    }),
    refreshMs: Type.Integer({
      default: 15_000,
      minimum: 100,
      maximum: 600_000,
      description:
        'How often every active order is recomputed without an event (time passing raises P(late))',
    }),
    eventClock: Type.Boolean({
      default: false,
      description:
        "The orders' clock follows the latest occurred_at when events run ahead of the wall clock (a simulated city on a fast clock; the loopback demo turns it on)",
    }),
    keepFinishedMinutes: Type.Number({
      default: 60,
      minimum: 1,
      maximum: 10_080,
      description: 'How long a delivered or cancelled order still answers with its final state',
    }),
    maxLifeHours: Type.Number({
      default: 12,
      minimum: 1,
      maximum: 168,
      description: 'An order with no final event is dropped this long after it was created',
    }),
  },
  { default: {} },
);

export type OrdersConfig = Static<typeof ordersConfigSchema>;
