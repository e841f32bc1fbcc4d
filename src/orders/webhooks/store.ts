import { randomBytes, randomUUID } from 'node:crypto';
import { migrateOnce, type Migration, type SqlRunner } from '../../platform/index.js';

/**
 * Webhook endpoints and the outbox of their deliveries, in the deployment's database (SQLite on one machine,
 * PostgreSQL for a fleet), module `webhooks` of schema_migrations. Times are ISO 8601 UTC text, which sorts as time.
 */
export const WEBHOOK_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create_webhook_outbox',
    sql: `
CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  event_types TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at TEXT NOT NULL,
  deleted_at TEXT
);
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at TEXT NOT NULL,
  lease_until TEXT,
  last_status INTEGER,
  last_error TEXT,
  created_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status);`,
  },
];

export interface WebhookEndpoint {
  id: string;
  url: string;
  eventTypes: string[];
  description: string;
  createdAt: string;
}

/** An endpoint with its signing secret: what the deliverer reads, and what registration shows once. */
export interface WebhookEndpointWithSecret extends WebhookEndpoint {
  secret: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface WebhookDelivery {
  /** `<endpoint id>:<event id>`: the primary key that makes enqueueing idempotent, and the receiver's idempotency key. */
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  finishedAt: string | null;
}

/** A claimed delivery: what to send, and where. */
export interface ClaimedDelivery extends WebhookDelivery {
  payload: string;
  url: string;
  secret: string;
}

export interface NewDelivery {
  endpointId: string;
  eventId: string;
  eventType: string;
  payload: string;
}

interface EndpointRow {
  id: string;
  url: string;
  secret: string;
  event_types: string;
  description: string;
  created_at: string;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number | string;
  next_attempt_at: string;
  last_status: number | string | null;
  last_error: string | null;
  created_at: string;
  finished_at: string | null;
}

const DELIVERY_COLUMNS =
  'id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, last_status, last_error, created_at, finished_at';

const iso = (ms: number): string => new Date(ms).toISOString();

const toEndpoint = (r: EndpointRow): WebhookEndpointWithSecret => ({
  id: r.id,
  url: r.url,
  secret: r.secret,
  eventTypes: r.event_types.split(',').filter(Boolean),
  description: r.description,
  createdAt: r.created_at,
});

const withoutSecret = ({ secret: _secret, ...endpoint }: WebhookEndpointWithSecret): WebhookEndpoint =>
  endpoint;

const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  endpointId: r.endpoint_id,
  eventId: r.event_id,
  eventType: r.event_type,
  status: r.status,
  attempts: Number(r.attempts),
  nextAttemptAt: r.next_attempt_at,
  lastStatus: r.last_status === null ? null : Number(r.last_status),
  lastError: r.last_error,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
});

/** A Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/**
 * The outbox. A delivery is inserted once per (endpoint, event) whatever the number of times its event is read from
 * the log; a deliverer claims due deliveries with a lease, so two deliverers never send the same one at once, and a
 * deliverer that dies mid-send leaves a lease that expires and the delivery is sent again (with the same idempotency
 * key). Attempts count at the claim, so a delivery that kills its sender still ends in the dead-letter list.
 */
export class SqlWebhookStore {
  private readonly ready: () => Promise<unknown>;

  constructor(
    private readonly db: SqlRunner,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    this.ready = migrateOnce(db, 'webhooks', WEBHOOK_MIGRATIONS);
  }

  async register(input: {
    url: string;
    eventTypes: readonly string[];
    description: string;
    nowMs?: number;
  }): Promise<WebhookEndpointWithSecret> {
    await this.ready();
    const endpoint: WebhookEndpointWithSecret = {
      id: `wh_${randomUUID().replace(/-/g, '')}`,
      url: input.url,
      secret: newWebhookSecret(),
      eventTypes: [...new Set(input.eventTypes)].sort(),
      description: input.description,
      createdAt: iso(input.nowMs ?? Date.now()),
    };
    await this.db.query(
      `INSERT INTO webhook_endpoints (id, url, secret, event_types, description, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        endpoint.id,
        endpoint.url,
        endpoint.secret,
        endpoint.eventTypes.join(','),
        endpoint.description,
        endpoint.createdAt,
      ],
    );
    return endpoint;
  }

  /** Endpoints not deleted, oldest first; with their secrets only for the deliverer. */
  async endpoints(): Promise<WebhookEndpointWithSecret[]> {
    await this.ready();
    const rows = await this.db.query<EndpointRow>(
      `SELECT id, url, secret, event_types, description, created_at FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY created_at, id`,
    );
    return rows.map(toEndpoint);
  }

  async list(): Promise<WebhookEndpoint[]> {
    return (await this.endpoints()).map(withoutSecret);
  }

  /** Deletes the endpoint and drops its pending deliveries; past ones stay readable. False when unknown. */
  async remove(id: string, nowMs = Date.now()): Promise<boolean> {
    await this.ready();
    return this.db.transaction(async (tx) => {
      const removed = await tx.query<{ id: string }>(
        `UPDATE webhook_endpoints SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id`,
        [id, iso(nowMs)],
      );
      if (removed.length === 0) return false;
      await tx.query(`DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'`, [id]);
      return true;
    });
  }

  /** Inserts the deliveries not already there (same endpoint and event); returns how many were new. */
  async enqueue(deliveries: readonly NewDelivery[], nowMs = Date.now()): Promise<number> {
    if (deliveries.length === 0) return 0;
    await this.ready();
    const at = iso(nowMs);
    return this.db.transaction(async (tx) => {
      let inserted = 0;
      for (const d of deliveries) {
        const rows = await tx.query<{ id: string }>(
          `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, status, attempts, next_attempt_at, created_at)
           VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) ON CONFLICT (id) DO NOTHING RETURNING id`,
          [`${d.endpointId}:${d.eventId}`, d.endpointId, d.eventId, d.eventType, d.payload, at],
        );
        inserted += rows.length;
      }
      return inserted;
    });
  }

  /**
   * Takes up to `limit` due deliveries for `leaseMs`: each is one attempt. A delivery another deliverer holds (its
   * lease not expired) is skipped; on PostgreSQL the second UPDATE of a row re-checks the lease after the first
   * commits, so a row is never claimed twice.
   */
  async claim(limit: number, leaseMs: number, nowMs = Date.now()): Promise<ClaimedDelivery[]> {
    await this.ready();
    const now = iso(nowMs);
    const due = `status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)`;
    const claimed = await this.db.query<{ id: string }>(
      `UPDATE webhook_deliveries SET lease_until = $2, attempts = attempts + 1
       WHERE id IN (SELECT id FROM webhook_deliveries WHERE ${due} ORDER BY next_attempt_at LIMIT $3) AND ${due}
       RETURNING id`,
      [now, iso(nowMs + leaseMs), limit],
    );
    if (claimed.length === 0) return [];
    const params = claimed.map((c) => c.id);
    const rows = await this.db.query<DeliveryRow & { payload: string; url: string; secret: string }>(
      `SELECT ${DELIVERY_COLUMNS.split(', ')
        .map((c) => `d.${c}`)
        .join(', ')}, d.payload, e.url, e.secret
       FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
       WHERE d.id IN (${params.map((_, i) => `$${i + 1}`).join(', ')})`,
      params,
    );
    return rows.map((r) => ({ ...toDelivery(r), payload: r.payload, url: r.url, secret: r.secret }));
  }

  async delivered(id: string, status: number, nowMs = Date.now()): Promise<void> {
    await this.db.query(
      `UPDATE webhook_deliveries SET status = 'delivered', lease_until = NULL, last_status = $2, last_error = NULL, finished_at = $3 WHERE id = $1`,
      [id, status, iso(nowMs)],
    );
  }

  /** A failed attempt: due again at `retryAtMs`, or dead (the dead-letter list) when there is none. */
  async failed(
    id: string,
    outcome: { status: number | null; error: string; retryAtMs: number | undefined },
    nowMs = Date.now(),
  ): Promise<void> {
    const error = outcome.error.slice(0, 500);
    if (outcome.retryAtMs === undefined) {
      await this.db.query(
        `UPDATE webhook_deliveries SET status = 'dead', lease_until = NULL, last_status = $2, last_error = $3, finished_at = $4 WHERE id = $1`,
        [id, outcome.status, error, iso(nowMs)],
      );
      return;
    }
    await this.db.query(
      `UPDATE webhook_deliveries SET lease_until = NULL, last_status = $2, last_error = $3, next_attempt_at = $4 WHERE id = $1`,
      [id, outcome.status, error, iso(outcome.retryAtMs)],
    );
  }

  async deliveries(filter: {
    status?: DeliveryStatus;
    endpointId?: string;
    limit: number;
  }): Promise<WebhookDelivery[]> {
    await this.ready();
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status) where.push(`status = $${params.push(filter.status)}`);
    if (filter.endpointId) where.push(`endpoint_id = $${params.push(filter.endpointId)}`);
    const rows = await this.db.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id LIMIT $${params.push(filter.limit)}`,
      params,
    );
    return rows.map(toDelivery);
  }

  /** A dead delivery back in the queue with its attempts reset; undefined when there is no such dead delivery. */
  async redrive(id: string, nowMs = Date.now()): Promise<WebhookDelivery | undefined> {
    await this.ready();
    const rows = await this.db.query<DeliveryRow>(
      `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2, finished_at = NULL
       WHERE id = $1 AND status = 'dead'
         AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE deleted_at IS NULL)
       RETURNING ${DELIVERY_COLUMNS}`,
      [id, iso(nowMs)],
    );
    return rows[0] ? toDelivery(rows[0]) : undefined;
  }

  async get(id: string): Promise<WebhookDelivery | undefined> {
    await this.ready();
    const rows = await this.db.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1`,
      [id],
    );
    return rows[0] ? toDelivery(rows[0]) : undefined;
  }

  /** Deliveries waiting to be sent: the backlog an operator watches. */
  async pending(): Promise<number> {
    await this.ready();
    const [row] = await this.db.query<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'`,
    );
    return Number(row?.n ?? 0);
  }

  /** Drops delivered and dead deliveries that finished before `beforeMs`. */
  async prune(beforeMs: number): Promise<void> {
    await this.ready();
    await this.db.query(
      `DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'dead') AND finished_at < $1`,
      [iso(beforeMs)],
    );
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}
