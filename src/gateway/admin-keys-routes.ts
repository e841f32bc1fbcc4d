import { Type, type Static } from 'typebox';
import { EtaError, type HttpServer, type Routes } from '../platform/index.js';
import { SCOPES, type ApiKeyRecord, type ApiKeyStore } from './api-keys.js';
import type { PreHandler } from './auth.js';
import { ErrorBody } from './schemas.js';

const KeyId = Type.String({
  pattern: '^[a-z0-9]{8}$',
  description: 'The public id of a key (the part after es_)',
});
const Scopes = Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s))), {
  minItems: 1,
  maxItems: SCOPES.length,
  uniqueItems: true,
});

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f]+$' }),
    scopes: Scopes,
    rate_limit_per_second: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
const RotateBody = Type.Object(
  { overlap_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400, default: 86_400 })) },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: KeyId });

const KeyInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  rate_limit_per_second: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Type.String(),
  expires_at: Type.Union([Type.String(), Type.Null()]),
  revoked_at: Type.Union([Type.String(), Type.Null()]),
});
const NewKey = Type.Object({
  key: Type.String({ description: 'The key itself: shown once, only its hash is kept' }),
  info: KeyInfo,
});

/** Never the hash: it is not a secret, but nothing outside needs it. */
function info(r: ApiKeyRecord): Static<typeof KeyInfo> {
  return {
    id: r.id,
    name: r.name,
    scopes: r.scopes,
    rate_limit_per_second: r.rateLimitPerSecond,
    created_at: r.createdAt,
    expires_at: r.expiresAt,
    revoked_at: r.revokedAt,
  };
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

/** `/v1/admin/keys`: create, list, rotate and revoke API keys (admin scope). The same store as `etaserve keys`. */
export function adminKeysRoutes(keys: ApiKeyStore, authorizeAdmin: PreHandler): Routes {
  const plugin = async (app: HttpServer): Promise<void> => {
    const base = { onRequest: authorizeAdmin };
    const tags = ['admin'];
    const security = [{ bearer: [] }];

    app.get(
      '/v1/admin/keys',
      {
        ...base,
        schema: {
          summary: 'API keys (never the keys themselves)',
          tags,
          security,
          response: { 200: Type.Object({ keys: Type.Array(KeyInfo) }), ...errors },
        },
      },
      async () => ({
        keys: (await keys.list()).map(info),
      }),
    );

    app.post(
      '/v1/admin/keys',
      {
        ...base,
        schema: {
          summary: 'Create an API key; the answer holds it once',
          tags,
          security,
          body: CreateBody,
          response: { 201: NewKey, ...errors },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const { record, key } = await keys.create(b.name, b.scopes, b.rate_limit_per_second ?? null);
        return reply.code(201).send({ key, info: info(record) });
      },
    );

    app.post(
      '/v1/admin/keys/:id/rotate',
      {
        ...base,
        schema: {
          summary: 'A new key with the same scopes; the old one works for the overlap',
          tags,
          security,
          params: IdParams,
          body: Type.Optional(RotateBody),
          response: { 201: NewKey, ...errors },
        },
      },
      async (req, reply) => {
        const rotated = await keys.rotate(req.params.id, req.body?.overlap_seconds ?? 86_400);
        if (!rotated) throw new EtaError('not_found', `no active key ${req.params.id}`, { field: 'id' });
        return reply.code(201).send({ key: rotated.key, info: info(rotated.record) });
      },
    );

    app.delete(
      '/v1/admin/keys/:id',
      {
        ...base,
        schema: {
          summary: 'Revoke a key at once',
          tags,
          security,
          params: IdParams,
          response: { 200: KeyInfo, ...errors },
        },
      },
      async (req) => {
        const revoked = await keys.revoke(req.params.id);
        if (!revoked) throw new EtaError('not_found', `no key ${req.params.id}`, { field: 'id' });
        return info(revoked);
      },
    );
  };
  return plugin;
}
