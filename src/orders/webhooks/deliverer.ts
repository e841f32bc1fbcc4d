import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import { throttledWarn, type Logger } from '../../platform/index.js';
import type { ClaimedDelivery, SqlWebhookStore } from './store.js';
import { checkWebhookUrl, publicOnlyLookup } from './targets.js';

export interface DelivererSettings {
  /** How often the outbox is read when it had nothing due. */
  pollMs: number;
  /** Attempts before a delivery goes to the dead-letter list. */
  maxAttempts: number;
  /** The first retry's delay; each next one doubles, up to `backoffMaxMs`. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** One attempt's whole time: connect, answer and body. */
  timeoutMs: number;
  /** At most this many sends at once. */
  concurrency: number;
  allowPrivateTargets: boolean;
}

export interface DeliveryMetrics {
  /** `outcome`: delivered, retry, dead. */
  outcomes: { inc(labels: { outcome: 'delivered' | 'retry' | 'dead' }): void };
  pending: { set(value: number): void };
}

export interface DelivererDeps {
  store: SqlWebhookStore;
  settings: DelivererSettings;
  logger: Logger;
  metrics?: DeliveryMetrics;
  now?: () => number;
  random?: () => number;
}

/** When the next attempt is due after `attempts` failures: exponential, with jitter so retries do not march in step. */
export function retryDelayMs(
  attempts: number,
  settings: Pick<DelivererSettings, 'backoffBaseMs' | 'backoffMaxMs'>,
  random: () => number,
  retryAfterMs = 0,
): number {
  const exponential = Math.min(
    settings.backoffMaxMs,
    settings.backoffBaseMs * 2 ** Math.max(0, attempts - 1),
  );
  const jittered = exponential / 2 + (random() * exponential) / 2;
  return Math.min(settings.backoffMaxMs, Math.max(jittered, retryAfterMs));
}

interface Attempt {
  status: number | null;
  error?: string;
  retryAfterMs?: number;
}

/**
 * Sends the outbox: claims due deliveries (a lease, so no other deliverer sends them meanwhile), POSTs each signed
 * the Standard Webhooks way, and records the outcome. A 2xx is delivered; anything else is retried with backoff
 * until `maxAttempts`, then dead-lettered for an operator. Redirects are not followed.
 */
export class WebhookDeliverer {
  private readonly agent: Agent;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly warn: (fields: Record<string, unknown>, message: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private lastPendingMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: DelivererDeps) {
    const { settings } = deps;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.warn = throttledWarn(deps.logger, 10_000);
    this.agent = new Agent({
      connect: {
        timeout: settings.timeoutMs,
        ...(settings.allowPrivateTargets ? {} : { lookup: publicOnlyLookup() }),
      },
      headersTimeout: settings.timeoutMs,
      bodyTimeout: settings.timeoutMs,
      connections: settings.concurrency,
    });
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops claiming and waits for the sends in hand (each bounded by the timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.agent.close();
  }

  /** Claims and sends what is due; how many it sent. */
  async runOnce(): Promise<number> {
    const { store, settings } = this.deps;
    // The lease outlives an attempt: a deliverer alive past it would send alongside the next one.
    const claimed = await store.claim(settings.concurrency, settings.timeoutMs * 2 + 5_000, this.now());
    await Promise.all(claimed.map((d) => this.deliver(d)));
    if (this.deps.metrics && this.now() - this.lastPendingMs > 5_000) {
      this.lastPendingMs = this.now();
      this.deps.metrics.pending.set(await store.pending());
    }
    return claimed.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().then(
        // A full batch: more may be due at once.
        (sent) => this.schedule(sent >= this.deps.settings.concurrency ? 0 : this.deps.settings.pollMs),
        (e: unknown) => {
          this.warn({ err: e }, 'webhook outbox unreadable; retrying');
          this.schedule(this.deps.settings.pollMs);
        },
      );
    }, delayMs);
    this.timer.unref();
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const { store, settings, metrics } = this.deps;
    const attempt = await this.send(delivery);
    const nowMs = this.now();
    if (attempt.status !== null && attempt.status >= 200 && attempt.status < 300) {
      await store.delivered(delivery.id, attempt.status, nowMs);
      metrics?.outcomes.inc({ outcome: 'delivered' });
      return;
    }
    const error = attempt.error ?? `answered ${attempt.status}`;
    const dead = delivery.attempts >= settings.maxAttempts;
    const retryAtMs = dead
      ? undefined
      : nowMs + retryDelayMs(delivery.attempts, settings, this.random, attempt.retryAfterMs);
    await store.failed(delivery.id, { status: attempt.status, error, retryAtMs }, nowMs);
    metrics?.outcomes.inc({ outcome: dead ? 'dead' : 'retry' });
    if (dead)
      this.deps.logger.warn(
        { delivery: delivery.id, url: delivery.url, attempts: delivery.attempts, error },
        'webhook delivery dead-lettered',
      );
  }

  private async send(delivery: ClaimedDelivery): Promise<Attempt> {
    const { settings } = this.deps;
    try {
      // Checked again at each send: the endpoint was registered under the rules of its day.
      const url = checkWebhookUrl(delivery.url, settings.allowPrivateTargets);
      const sentAt = new Date(this.now());
      const signature = new Webhook(delivery.secret).sign(delivery.id, sentAt, delivery.payload);
      const res = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'etaserve-webhooks/1',
          'webhook-id': delivery.id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signature,
          'idempotency-key': delivery.id,
        },
        body: delivery.payload,
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      await res.body.dump({ limit: 65_536 }).catch(() => undefined);
      return { status: res.statusCode, ...retryAfterOf(res.headers['retry-after']) };
    } catch (e) {
      const error =
        e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e);
      return { status: null, error };
    }
  }
}

function retryAfterOf(header: string | string[] | undefined): { retryAfterMs?: number } {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return {};
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return { retryAfterMs: seconds * 1000 };
  const at = Date.parse(value);
  return Number.isFinite(at) ? { retryAfterMs: Math.max(0, at - Date.now()) } : {};
}
