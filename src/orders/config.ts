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
    webhookAllowPrivateTargets: Type.Boolean({
      default: false,
      description:
        'Webhooks may go to http:// and to loopback or private addresses (tests, a demo on one machine); off, only https to public addresses (docs/webhooks.md)',
    }),
    webhookMaxAttempts: Type.Integer({
      default: 12,
      minimum: 1,
      maximum: 100,
      description: 'Attempts of a webhook delivery before it goes to the dead-letter list',
    }),
    webhookBackoffBaseMs: Type.Integer({
      default: 10_000,
      minimum: 10,
      maximum: 3_600_000,
      description:
        "A failed webhook's first retry comes after about this long; each next one after twice as long",
    }),
    webhookBackoffMaxMs: Type.Integer({
      default: 3_600_000,
      minimum: 10,
      maximum: 86_400_000,
      description: 'The longest wait between two attempts of a webhook delivery',
    }),
    webhookTimeoutMs: Type.Integer({
      default: 10_000,
      minimum: 100,
      maximum: 60_000,
      description: 'One webhook attempt, connection to answer; longer is a failed attempt',
    }),
    webhookPollMs: Type.Integer({
      default: 1000,
      minimum: 10,
      maximum: 60_000,
      description: 'How often the webhook outbox is read for due deliveries when it had none',
    }),
    webhookConcurrency: Type.Integer({
      default: 8,
      minimum: 1,
      maximum: 64,
      description: 'Webhook deliveries sent at once',
    }),
    webhookKeepDays: Type.Integer({
      default: 14,
      minimum: 1,
      maximum: 365,
      description: 'Delivered and dead-lettered webhook deliveries are readable this long, then deleted',
    }),
  },
  { default: {} },
);

export type OrdersConfig = Static<typeof ordersConfigSchema>;
