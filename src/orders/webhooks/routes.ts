import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { ErrorBody, EtaError, type Routes } from '../../platform/index.js';
import { WEBHOOK_EVENT_TYPES } from './feeder.js';
import type { SqlWebhookStore, WebhookDelivery, WebhookEndpoint } from './store.js';
import { checkWebhookUrl } from './targets.js';

type Authorize = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** What the admin API needs: the outbox, and whether private targets may be registered. */
export interface WebhookAdmin {
  store: SqlWebhookStore;
  allowPrivateTargets: boolean;
}

const WebhookId = Type.String({ pattern: '^wh_[0-9a-f]{32}$' });

const RegisterBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'https URL that receives the POSTs' }),
    events: Type.Array(Type.Union(WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t))), {
      minItems: 1,
      maxItems: WEBHOOK_EVENT_TYPES.length,
      uniqueItems: true,
    }),
    description: Type.Optional(Type.String({ maxLength: 200, pattern: '^[^\\u0000-\\u001f]*$' })),
  },
  { additionalProperties: false },
);

const Endpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Type.String(),
  created_at: Type.String(),
});
const NewEndpoint = Type.Object({
  ...Endpoint.properties,
  secret: Type.String({
    description: 'The signing secret (Standard Webhooks, whsec_...): shown once, keep it with the receiver',
  }),
});

const Delivery = Type.Object({
  id: Type.String({ description: 'Also the idempotency key: the webhook-id header of every attempt' }),
  webhook_id: Type.String(),
  event_id: Type.String(),
  event_type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')]),
  attempts: Type.Integer(),
  next_attempt_at: Type.String(),
  last_status: Type.Union([Type.Integer(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});

const DeliveriesQuery = Type.Object({
  status: Type.Optional(
    Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')]),
  ),
  webhook_id: Type.Optional(WebhookId),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});

const endpointAnswer = (e: WebhookEndpoint): Static<typeof Endpoint> => ({
  id: e.id,
  url: e.url,
  events: e.eventTypes,
  description: e.description,
  created_at: e.createdAt,
});

const deliveryAnswer = (d: WebhookDelivery): Static<typeof Delivery> => ({
  id: d.id,
  webhook_id: d.endpointId,
  event_id: d.eventId,
  event_type: d.eventType,
  status: d.status,
  attempts: d.attempts,
  next_attempt_at: d.nextAttemptAt,
  last_status: d.lastStatus,
  last_error: d.lastError,
  created_at: d.createdAt,
  finished_at: d.finishedAt,
});

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/**
 * `/v1/admin/webhooks`: register, list and delete endpoints, read their deliveries (`?status=dead` is the
 * dead-letter list) and send a dead one again. Admin scope; the outbox is in the deployment's database, so any
 * gateway answers the same.
 */
export function webhookRoutes(webhooks: WebhookAdmin, authorizeAdmin: Authorize): Routes {
  const { store, allowPrivateTargets } = webhooks;
  return async (app) => {
    const base = { onRequest: authorizeAdmin };
    const tags = ['admin'];
    const security = [{ bearer: [] }];

    app.post(
      '/v1/admin/webhooks',
      {
        ...base,
        schema: {
          summary: 'Register a webhook endpoint for order events; the answer holds its signing secret once',
          tags,
          security,
          body: RegisterBody,
          response: { 201: NewEndpoint, ...errors },
        },
      },
      async (req, reply) => {
        const url = checkWebhookUrl(req.body.url, allowPrivateTargets);
        const endpoint = await store.register({
          url: url.href,
          eventTypes: req.body.events,
          description: req.body.description ?? '',
        });
        return reply.code(201).send({ ...endpointAnswer(endpoint), secret: endpoint.secret });
      },
    );

    app.get(
      '/v1/admin/webhooks',
      {
        ...base,
        schema: {
          summary: 'Registered webhook endpoints (never their secrets)',
          tags,
          security,
          response: { 200: Type.Object({ webhooks: Type.Array(Endpoint) }), ...errors },
        },
      },
      async () => ({ webhooks: (await store.list()).map(endpointAnswer) }),
    );

    app.delete(
      '/v1/admin/webhooks/:id',
      {
        ...base,
        schema: {
          summary: 'Delete an endpoint: nothing more is sent to it, its pending deliveries are dropped',
          tags,
          security,
          params: Type.Object({ id: WebhookId }),
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (req, reply) => {
        if (!(await store.remove(req.params.id)))
          throw new EtaError('not_found', `no webhook ${req.params.id}`, { field: 'id' });
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/admin/webhooks/deliveries',
      {
        ...base,
        schema: {
          summary: 'Webhook deliveries, newest first; status=dead is the dead-letter list',
          tags,
          security,
          querystring: DeliveriesQuery,
          response: { 200: Type.Object({ deliveries: Type.Array(Delivery) }), ...errors },
        },
      },
      async (req) => ({
        deliveries: (
          await store.deliveries({
            ...(req.query.status ? { status: req.query.status } : {}),
            ...(req.query.webhook_id ? { endpointId: req.query.webhook_id } : {}),
            limit: req.query.limit ?? 100,
          })
        ).map(deliveryAnswer),
      }),
    );

    app.post(
      '/v1/admin/webhooks/deliveries/:id/retry',
      {
        ...base,
        schema: {
          summary: 'Send a dead-lettered delivery again, with its attempts reset (same idempotency key)',
          tags,
          security,
          params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) }),
          response: { 202: Delivery, ...errors },
        },
      },
      async (req, reply) => {
        const redriven = await store.redrive(req.params.id);
        if (redriven) return reply.code(202).send(deliveryAnswer(redriven));
        const existing = await store.get(req.params.id);
        if (!existing) throw new EtaError('not_found', `no delivery ${req.params.id}`, { field: 'id' });
        throw new EtaError(
          'conflict',
          `delivery ${req.params.id} is ${existing.status}${existing.status === 'dead' ? ' for a deleted webhook' : ''}; only a dead one is sent again`,
          { field: 'id' },
        );
      },
    );
  };
}
