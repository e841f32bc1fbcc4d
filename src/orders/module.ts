import { appenderOf, startProjection, type EventsConfig, type Subscription } from '../events/index.js';
import { defineModule, Histogram, isLoopback, type Service } from '../platform/index.js';
import { OrderBook } from './book.js';
import { OrdersClient } from './client.js';
import type { OrdersConfig } from './config.js';
import { LiveEtaTracker, type CheckoutContext } from './live-eta.js';
import { ordersInternalRoutes, type OrderEtas, type StreamLimits } from './routes.js';
import { ChampionLegs } from './served-legs.js';
import { OrdersService } from './service.js';
import { openWebhookStore, webhookService, type WebhookAdmin } from './webhooks/index.js';

export interface OrdersProvides extends OrderEtas {
  /** Webhook endpoints and their outbox, for the admin API of any gateway (the database is the deployment's). */
  webhooks: WebhookAdmin;
}

declare module '../platform/module-definition.js' {
  interface ModuleProvides {
    orders: OrdersProvides;
  }
}

interface OrdersModuleConfig {
  orders: OrdersConfig;
  events: EventsConfig;
  cache: { redisUrl: string };
  topology: { ordersUrl: string };
  simulator: { liveRequestsPerSecond: number };
}

export const STREAM_LIMITS: StreamLimits = { maxStreams: 10_000, heartbeatMs: 15_000 };

/**
 * The order state: a projection of the log (every active order, its stage, rider and their position), each order's
 * live ETA and P(late), streams of them, and `order.late_risk` alerts. One owner in a deployment, so every gateway
 * answers the same.
 */
export const ordersModule = defineModule<OrdersModuleConfig, OrdersProvides>({
  name: 'orders',
  description: "order state from the log: live ETAs through the order's life, P(late), late-risk alerts",
  needs: ['events', 'store', 'geo', 'registry'],
  port: (config) => config.orders.port,
  init({ config, ctx, get, runs }) {
    const events = get('events');
    const store = get('store');
    const geo = get('geo');
    const { registry, database } = get('registry');
    const champion = new ChampionLegs(registry, ctx.logger.child({ module: 'orders' }));
    const logger = ctx.logger.child({ module: 'orders' });
    const settings = config.orders;
    const book = new OrderBook({
      keepFinishedMs: settings.keepFinishedMinutes * 60_000,
      maxLifeMs: settings.maxLifeHours * 3_600_000,
    });
    const tracker = new LiveEtaTracker(() => champion.model, {
      maxShiftSecondsPerMinute: settings.maxShiftSecondsPerMinute,
      deadbandSeconds: settings.deadbandSeconds,
    });
    const appender = appenderOf(config, ctx, events);
    if (!appender.log)
      logger.warn(
        'order.late_risk events are not written: an orders process of its own needs events.backend=redis',
      );
    const emit = appender.log;
    const service = new OrdersService({
      book,
      tracker,
      // What the checkout model saw when the order was placed: the store's features and geo's trip to the door.
      checkout: async (order): Promise<CheckoutContext | undefined> => {
        const atMs = order.createdAtMs ?? Date.now();
        const { records } = await store.features.storeFeatures([order.storeId], atMs);
        const record = records.get(order.storeId);
        if (!record || !order.destination) return undefined;
        const [trip] = await geo.trips(
          order.destination,
          [{ id: order.storeId, location: record.location, radiusKm: record.deliveryRadiusKm }],
          atMs,
        );
        // The feature record and geo's estimate are the checkout model's inputs as they are.
        return trip ? { store: record, trip } : undefined;
      },
      ...(emit ? { emit: async (alerts) => void (await emit.append(alerts)) } : {}),
      lateRisk: { threshold: settings.lateRiskThreshold, hysteresis: settings.lateRiskHysteresis },
      logger,
      updateDelay: new Histogram({
        name: 'etaserve_order_update_delay_seconds',
        help: "From an order or rider event's arrival in the log to its order's new live ETA",
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [ctx.metrics.registry],
      }),
      // The loopback demo's simulated city runs ten times faster than the wall clock (src/app/live-traffic.ts).
      eventClock:
        settings.eventClock || (isLoopback(ctx.platform.host) && config.simulator.liveRequestsPerSecond > 0),
    });
    let projection: Subscription | undefined;
    let replayed = false;
    const alone = !runs('gateway');
    const timers: NodeJS.Timeout[] = [];
    const projections = events.projections;
    const lifecycle: Service = {
      name: 'orders',
      start: async () => {
        await champion.follow();
        timers.push(setInterval(() => void champion.follow(), settings.refreshMs).unref());
        if (!projections) return;
        projection = await startProjection(projections.log, {
          group: 'orders',
          name: 'order projection',
          replayFromMs: Date.now() - projections.replayHours * 3_600_000,
          pollMs: projections.pollMs,
          logger,
          apply: (records) => service.apply(records),
          forget: (entries) => service.forget(entries.flatMap((e) => e.orderIds)),
        });
        // Alerts once the replay is in: a restart reads back the alerts it wrote, and the past is not news.
        void projection.caughtUp().then(() => {
          replayed = true;
          service.goLive();
        });
        timers.push(setInterval(() => service.refresh(), settings.refreshMs).unref());
        timers.push(setInterval(() => service.sweep(), 60_000).unref());
      },
      stop: async () => {
        for (const t of timers) clearInterval(t);
        await projection?.close();
      },
      check: () => {
        if (!projections)
          return { ready: true, degraded: true, reason: 'events.projections is off: no order state' };
        if (replayed) return { ready: true };
        // In its own process it only answers for orders: not ready until it knows them all, or gateways would be
        // told "no such order" for real ones. Beside a gateway the ETA API must not wait for it.
        return {
          ready: !alone,
          degraded: true,
          reason: 'replaying the log: the order state is not complete yet',
        };
      },
    };
    const webhooks = openWebhookStore(database);
    const provides: OrdersProvides = {
      eta: (orderId) => service.eta(orderId),
      subscribe: (orderId, listener) => service.subscribe(orderId, listener),
      atRisk: async (limit) => service.atRisk(limit),
      webhooks: { store: webhooks, allowPrivateTargets: settings.webhookAllowPrivateTargets },
    };
    return {
      provides,
      services: [
        ...appender.services,
        lifecycle,
        { name: 'webhook-outbox', stop: () => webhooks.close() },
        webhookService({
          store: webhooks,
          log: events.log,
          settings,
          pollMs: config.events.pollMs,
          logger,
          registry: ctx.metrics.registry,
        }),
      ],
      internalRoutes: [{ plugin: ordersInternalRoutes(provides, STREAM_LIMITS) }],
    };
  },
  remote: {
    needs: ['registry'],
    configured: (config) => config.topology.ordersUrl !== '',
    client({ config, remote, internalToken, get }) {
      const client = new OrdersClient(remote('orders', config.topology.ordersUrl), internalToken);
      const webhooks = openWebhookStore(get('registry').database);
      return {
        provides: {
          eta: (orderId) => client.eta(orderId),
          subscribe: (orderId, listener, onEnd) => client.subscribe(orderId, listener, onEnd),
          atRisk: (limit) => client.atRisk(limit),
          webhooks: { store: webhooks, allowPrivateTargets: config.orders.webhookAllowPrivateTargets },
        },
        services: [{ name: 'webhook-outbox', stop: () => webhooks.close() }],
      };
    },
  },
});
