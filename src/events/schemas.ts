/**
 * The JSON Schemas of events, version 1, one per type. Fields beside the envelope are flat. Unknown extra fields are
 * allowed (a sender may add fields before the schema does: additive changes stay in v1); a breaking change is a new
 * version here, and `schema_version` on the event picks it.
 */
export const SCHEMA_VERSIONS = [1] as const;
export const CURRENT_SCHEMA_VERSION = 1;

const id = { type: 'string', minLength: 1, maxLength: 128 };
const seconds = { type: 'number', minimum: 0, maximum: 86_400 };
const lat = { type: 'number', minimum: -90, maximum: 90 };
const lng = { type: 'number', minimum: -180, maximum: 180 };
const timestamp = { type: 'string', format: 'iso-with-offset' };

const orderStep = (
  extra: Record<string, unknown> = {},
  required: string[] = [],
): Record<string, unknown> => ({
  type: 'object',
  required: ['order_id', 'store_id', ...required],
  properties: { order_id: id, store_id: id, rider_id: id, ...extra },
});

export const EVENT_SCHEMAS_V1: Record<string, Record<string, unknown>> = {
  'order.created': {
    type: 'object',
    required: [
      'order_id',
      'store_id',
      'destination',
      'items',
      'subtotal',
      'quoted_eta_seconds',
      'quoted_range_seconds',
      'promised_at',
      'model_version',
    ],
    properties: {
      order_id: id,
      store_id: id,
      customer_id: id,
      destination: { type: 'object', required: ['lat', 'lng'], properties: { lat, lng } },
      items: { type: 'integer', minimum: 1, maximum: 1000 },
      subtotal: { type: 'number', minimum: 0, maximum: 1_000_000 },
      quoted_eta_seconds: seconds,
      quoted_range_seconds: { type: 'array', minItems: 2, maxItems: 2, items: seconds },
      promised_at: timestamp,
      model_version: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
  'order.accepted': orderStep(),
  'order.ready': orderStep(),
  'order.picked_up': orderStep(),
  'order.delivered': orderStep(),
  'order.cancelled': orderStep({ reason: { type: 'string', maxLength: 256 } }),
  // A rider took the order: from now on their `rider.location` events move its ETA.
  'order.rider_assigned': orderStep({}, ['rider_id']),
  // Written by etaserve's order projection when P(late) crosses orders.lateRiskThreshold (docs/orders.md).
  'order.late_risk': orderStep(
    {
      p_late: { type: 'number', minimum: 0, maximum: 1 },
      threshold: { type: 'number', minimum: 0, maximum: 1 },
      promised_at: timestamp,
      eta_at: timestamp,
      stage: { type: 'string', maxLength: 32 },
    },
    ['p_late', 'promised_at'],
  ),
  'rider.location': {
    type: 'object',
    required: ['rider_id', 'lat', 'lng'],
    properties: { rider_id: id, lat, lng, available: { type: 'boolean' } },
  },
  /** Every `app.<name>` event: a free-form payload, bounded in size by the ingest. */
  app: {
    type: 'object',
    properties: { customer_id: id, session_id: id, store_id: id },
  },
};

/** `app.store_list_viewed` -> the `app` schema; names are lowercase words, dots and underscores. */
export const APP_TYPE = /^app\.[a-z][a-z0-9_.]{0,62}$/;
