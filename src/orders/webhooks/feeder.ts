import type { EtaEvent, EventLog, LogRecord, Subscription } from '../../events/index.js';
import type { Logger } from '../../platform/index.js';
import type { NewDelivery, SqlWebhookStore } from './store.js';

/** The events an endpoint may subscribe to: the late-risk alert and the order's stage changes. */
export const WEBHOOK_EVENT_TYPES = [
  'order.late_risk',
  'order.created',
  'order.accepted',
  'order.rider_assigned',
  'order.ready',
  'order.picked_up',
  'order.delivered',
  'order.cancelled',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const SUBSCRIBABLE: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);

/**
 * The fields a webhook carries, per type: no customer, destination or rider, so the outbox holds nothing that a
 * customer's forget would have to reach.
 */
const FIELDS: Readonly<Record<WebhookEventType, readonly string[]>> = {
  'order.late_risk': ['p_late', 'threshold', 'promised_at', 'eta_at', 'stage'],
  'order.created': ['promised_at', 'quoted_eta_seconds', 'quoted_range_seconds', 'model_version'],
  'order.accepted': [],
  'order.rider_assigned': [],
  'order.ready': [],
  'order.picked_up': [],
  'order.delivered': [],
  'order.cancelled': ['reason'],
};

/** The JSON a receiver gets (Standard Webhooks' `type`, `timestamp`, `data`). */
export function webhookPayload(event: EtaEvent): string {
  const type = event.type as WebhookEventType;
  const data: Record<string, unknown> = {
    event_id: event.event_id,
    order_id: event.order_id,
    store_id: event.store_id,
  };
  for (const field of FIELDS[type]) if (event[field] !== undefined) data[field] = event[field];
  return JSON.stringify({ type, timestamp: event.occurred_at, data });
}

/**
 * The outbox's feed: a consumer group of the log, so it resumes where it committed. Each subscribed event becomes one
 * delivery per endpoint registered before the event reached the log. A batch that cannot be written is read again
 * (at least once), and the outbox's key (endpoint, event) keeps the second read from sending twice.
 */
export function startWebhookFeeder(
  log: EventLog,
  store: SqlWebhookStore,
  options: { pollMs: number; logger: Logger },
): Subscription {
  return log.subscribe(
    'webhooks',
    async (records: readonly LogRecord[]) => {
      const wanted = records.filter((r) => r.event.forgotten !== true && SUBSCRIBABLE.has(r.event.type));
      if (wanted.length === 0) return;
      const endpoints = (await store.endpoints()).map((e) => ({
        ...e,
        since: Date.parse(e.createdAt),
        types: new Set(e.eventTypes),
      }));
      const deliveries: NewDelivery[] = [];
      for (const { event, ingestedAtMs } of wanted) {
        let payload: string | undefined;
        for (const endpoint of endpoints) {
          if (!endpoint.types.has(event.type) || ingestedAtMs < endpoint.since) continue;
          payload ??= webhookPayload(event);
          deliveries.push({
            endpointId: endpoint.id,
            eventId: event.event_id,
            eventType: event.type,
            payload,
          });
        }
      }
      await store.enqueue(deliveries);
    },
    {
      // With no committed offset yet (a new deployment, or one that died before its first commit), the last hour:
      // enough to cover that death, and endpoints only take events that arrived after they were registered.
      start: { sinceMs: Date.now() - 3_600_000 },
      pollMs: options.pollMs,
      onError: (e) => options.logger.warn({ err: e }, 'webhook outbox: a batch was not written; retrying'),
    },
  );
}
