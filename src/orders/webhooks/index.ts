import type { EventLog, Subscription } from '../../events/index.js';
import { Counter, Gauge, type Logger, type Registry, type Service } from '../../platform/index.js';
import { openDeploymentDatabase, type RegistryDatabase } from '../../registry/index.js';
import type { OrdersConfig } from '../config.js';
import { WebhookDeliverer } from './deliverer.js';
import { startWebhookFeeder } from './feeder.js';
import { SqlWebhookStore } from './store.js';

export { retryDelayMs, WebhookDeliverer, type DelivererSettings } from './deliverer.js';
export { startWebhookFeeder, WEBHOOK_EVENT_TYPES, webhookPayload, type WebhookEventType } from './feeder.js';
export { webhookRoutes, type WebhookAdmin } from './routes.js';
export {
  SqlWebhookStore,
  WEBHOOK_MIGRATIONS,
  type ClaimedDelivery,
  type DeliveryStatus,
  type WebhookDelivery,
  type WebhookEndpoint,
} from './store.js';
export { checkWebhookUrl, isPrivateAddress, publicOnlyLookup } from './targets.js';

/** The outbox in the deployment's database (the registry's), on a connection of its own. */
export function openWebhookStore(database: RegistryDatabase): SqlWebhookStore {
  const { db, close } = openDeploymentDatabase(database, 'the webhook outbox');
  return new SqlWebhookStore(db, close);
}

/**
 * The order state owner's half of webhooks: the log's events into the outbox, the outbox to the endpoints, and old
 * deliveries pruned. Stops in that order; closes the store last.
 */
export function webhookService(deps: {
  store: SqlWebhookStore;
  log: EventLog;
  settings: OrdersConfig;
  pollMs: number;
  logger: Logger;
  registry: Registry;
}): Service {
  const { store, settings, logger } = deps;
  const deliverer = new WebhookDeliverer({
    store,
    logger,
    settings: {
      pollMs: settings.webhookPollMs,
      maxAttempts: settings.webhookMaxAttempts,
      backoffBaseMs: settings.webhookBackoffBaseMs,
      backoffMaxMs: settings.webhookBackoffMaxMs,
      timeoutMs: settings.webhookTimeoutMs,
      concurrency: settings.webhookConcurrency,
      allowPrivateTargets: settings.webhookAllowPrivateTargets,
    },
    metrics: {
      outcomes: new Counter({
        name: 'etaserve_webhook_deliveries_total',
        help: 'Webhook attempts by outcome: delivered, retry (failed, due again), dead (dead-lettered)',
        labelNames: ['outcome'] as const,
        registers: [deps.registry],
      }),
      pending: new Gauge({
        name: 'etaserve_webhook_pending',
        help: 'Webhook deliveries waiting in the outbox',
        registers: [deps.registry],
      }),
    },
  });
  let feeder: Subscription | undefined;
  let prune: NodeJS.Timeout | undefined;
  const pruneOld = (): void => {
    const before = Date.now() - settings.webhookKeepDays * 86_400_000;
    store.prune(before).catch((e: unknown) => logger.warn({ err: e }, 'webhook outbox not pruned'));
  };
  return {
    name: 'webhooks',
    start: async () => {
      feeder = startWebhookFeeder(deps.log, store, { pollMs: deps.pollMs, logger });
      deliverer.start();
      pruneOld();
      prune = setInterval(pruneOld, 3_600_000).unref();
    },
    stop: async () => {
      clearInterval(prune);
      await feeder?.close();
      await deliverer.stop();
    },
  };
}
