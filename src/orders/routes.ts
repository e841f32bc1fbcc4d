import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { ErrorBody, EtaError, type Routes } from '../platform/index.js';
import { formatWithOffset } from '../store/index.js';
import type { ActiveOrder, LiveEta } from './live-eta.js';

/** What reads order ETAs, in this process or in the orders process. */
export interface OrderEtas {
  eta(orderId: string): Promise<LiveEta | undefined>;
  /** Calls `listener` with each new answer; the returned function stops it. `onEnd` when the source goes away. */
  subscribe(orderId: string, listener: (eta: LiveEta) => void, onEnd?: (e?: Error) => void): () => void;
  /** Active orders, riskiest first, with where each is. */
  atRisk(limit: number): Promise<ActiveOrder[]>;
}

const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});

const OrderParams = Type.Object({ order_id: Type.String({ minLength: 1, maxLength: 128 }) });

const Instant = Type.String({ description: "ISO 8601 with the store's offset" });

export const OrderEtaAnswer = Type.Object({
  order_id: Type.String(),
  store_id: Type.String(),
  stage: Type.Union([
    Type.Literal('created'),
    Type.Literal('accepted'),
    Type.Literal('ready'),
    Type.Literal('picked_up'),
    Type.Literal('delivered'),
    Type.Literal('cancelled'),
  ]),
  eta_at: Instant,
  eta_seconds_remaining: Type.Integer({ minimum: 0 }),
  range_at: Type.Array(Instant, { minItems: 2, maxItems: 2 }),
  promised_at: Type.Union([Instant, Type.Null()]),
  p_late: Type.Number({ minimum: 0, maximum: 1, description: 'Probability of arriving after promised_at' }),
  updated_at: Instant,
  model_version: Type.String(),
  degraded: Type.Boolean(),
  legs: Type.Record(Type.String(), Type.Integer(), {
    description: 'Median seconds of each leg still ahead (prep, pickup, ride) when leg models serve',
  }),
});
export type OrderEtaAnswer = Static<typeof OrderEtaAnswer>;

const LatLngAnswer = Type.Object({ lat: Type.Number(), lng: Type.Number() });

/** An item of the admin list: the live ETA and where the order is on the map, and where it goes. */
export const ActiveOrderAnswer = Type.Object({
  ...OrderEtaAnswer.properties,
  position: Type.Union(
    [
      Type.Object({
        lat: Type.Number(),
        lng: Type.Number(),
        source: Type.Union([Type.Literal('rider'), Type.Literal('store')]),
      }),
      Type.Null(),
    ],
    {
      description:
        "Where the order is: its rider's latest position once picked up (source rider), else its store; " +
        'null until one is known',
    },
  ),
  destination: Type.Union([LatLngAnswer, Type.Null()], { description: 'Where it is delivered' }),
});
export type ActiveOrderAnswer = Static<typeof ActiveOrderAnswer>;

/** The public shape of an order's live ETA: whole seconds, times with the store's offset. */
export function orderEtaAnswer(eta: LiveEta): OrderEtaAnswer {
  const at = (ms: number): string =>
    eta.timezone ? formatWithOffset(eta.timezone, Math.round(ms / 1000) * 1000) : new Date(ms).toISOString();
  return {
    order_id: eta.orderId,
    store_id: eta.storeId,
    stage: eta.stage,
    eta_at: at(eta.etaAtMs),
    eta_seconds_remaining: Math.max(0, Math.round(eta.remainingSeconds)),
    range_at: [at(eta.rangeAtMs[0]), at(eta.rangeAtMs[1])],
    promised_at: eta.promisedAtMs === undefined ? null : at(eta.promisedAtMs),
    p_late: Math.round(eta.pLate * 1000) / 1000,
    updated_at: at(eta.updatedAtMs),
    model_version: eta.modelVersion,
    degraded: eta.degraded,
    legs: Object.fromEntries(Object.entries(eta.legs).map(([k, v]) => [k, Math.round(v)])),
  };
}

/** The admin list's shape: the public answer, and the order's place on the map. */
export function activeOrderAnswer(order: ActiveOrder): ActiveOrderAnswer {
  const { position, destination } = order;
  return {
    ...orderEtaAnswer(order),
    position: position && { lat: position.lat, lng: position.lng, source: position.source },
    destination: destination && { lat: destination.lat, lng: destination.lng },
  };
}

const notFound = (orderId: string): EtaError =>
  new EtaError('order_not_found', `no order ${orderId} is known (never created, or finished long ago)`, {
    field: 'order_id',
  });

export interface StreamLimits {
  /** Open streams per process; past it a new one is refused with 503. */
  maxStreams: number;
  /** A comment line this often keeps proxies from closing an idle stream. */
  heartbeatMs: number;
}

/**
 * Server-Sent Events of one order: the current answer at once, then one message per change (`id` is the answer's
 * sequence), until the order is final or the client goes. `toBody` shapes each message.
 */
function streamOf(
  orders: OrderEtas,
  limits: StreamLimits,
  open: { count: number },
  toBody: (eta: LiveEta) => unknown,
) {
  return async (orderId: string, reply: FastifyReply): Promise<void> => {
    const first = await orders.eta(orderId);
    if (!first) throw notFound(orderId);
    if (open.count >= limits.maxStreams)
      throw new EtaError('overloaded', 'too many open order streams here; retry shortly', { retryAfter: 5 });
    open.count++;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let closed = false;
    const send = (eta: LiveEta): void => {
      if (closed) return;
      res.write(`id: ${eta.sequence}\nevent: eta\ndata: ${JSON.stringify(toBody(eta))}\n\n`);
      if (eta.stage === 'delivered' || eta.stage === 'cancelled') end();
    };
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), limits.heartbeatMs);
    const stop = orders.subscribe(orderId, send, () => end());
    function end(): void {
      if (closed) return;
      closed = true;
      open.count--;
      clearInterval(heartbeat);
      stop();
      res.end();
    }
    res.once('close', end);
    send(first);
  };
}

type Authorize = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * `GET /v1/orders/{order_id}/eta` and its stream, on a gateway, behind a `predict` key; the active orders by risk,
 * behind an `admin` key.
 */
export function orderRoutes(
  orders: OrderEtas,
  authorize: { predict: Authorize; admin: Authorize },
  limits: StreamLimits,
): Routes {
  const stream = streamOf(orders, limits, { count: 0 }, orderEtaAnswer);
  return async (app) => {
    app.get(
      '/v1/orders/:order_id/eta',
      {
        onRequest: authorize.predict,
        schema: {
          summary: "An order's live ETA: its stage, the arrival time with its range, and P(late)",
          security: [{ bearer: [] }],
          params: OrderParams,
          response: { 200: OrderEtaAnswer, 404: ErrorBody },
        },
      },
      async (req) => {
        const eta = await orders.eta(req.params.order_id);
        if (!eta) throw notFound(req.params.order_id);
        return orderEtaAnswer(eta);
      },
    );
    app.get(
      '/v1/orders/:order_id/eta/stream',
      {
        onRequest: authorize.predict,
        schema: {
          summary:
            "Server-Sent Events of an order's live ETA: one `eta` message per change, until it is delivered",
          security: [{ bearer: [] }],
          params: OrderParams,
          produces: ['text/event-stream'],
          response: { 404: ErrorBody },
        },
      },
      async (req, reply) => stream(req.params.order_id, reply),
    );
    app.get(
      '/v1/admin/orders',
      {
        onRequest: authorize.admin,
        schema: {
          summary: 'Active orders, the likeliest to be late first, with where each is on the map',
          security: [{ bearer: [] }],
          querystring: ListQuery,
          response: { 200: Type.Object({ orders: Type.Array(ActiveOrderAnswer) }) },
        },
      },
      async (req) => ({ orders: (await orders.atRisk(req.query.limit ?? 50)).map(activeOrderAnswer) }),
    );
  };
}

/** Paths under which the orders process serves gateways; `OrdersClient` calls these. */
export const ORDERS_INTERNAL_PREFIX = '/internal/orders';

/** The orders process's internal routes: the live ETA as it is (`LiveEta`), and its stream. */
export function ordersInternalRoutes(orders: OrderEtas, limits: StreamLimits): Routes {
  const stream = streamOf(orders, limits, { count: 0 }, (eta) => eta);
  return async (app) => {
    app.get(`${ORDERS_INTERNAL_PREFIX}/:order_id/eta`, { schema: { params: OrderParams } }, async (req) => {
      const eta = await orders.eta(req.params.order_id);
      if (!eta) throw notFound(req.params.order_id);
      return eta;
    });
    app.get(`${ORDERS_INTERNAL_PREFIX}`, { schema: { querystring: ListQuery } }, async (req) => ({
      orders: await orders.atRisk(req.query.limit ?? 50),
    }));
    app.get(
      `${ORDERS_INTERNAL_PREFIX}/:order_id/eta/stream`,
      { schema: { params: OrderParams } },
      async (req, reply) => stream(req.params.order_id, reply),
    );
  };
}
