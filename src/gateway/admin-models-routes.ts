import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { EtaError, type HttpServer } from '../platform/index.js';
import { promote, rollback, setChallenger, type ModelRegistry } from '../registry/index.js';
import type { PreHandler } from './auth.js';
import { ErrorBody } from './schemas.js';

const ModelBody = Type.Object({
  version: Type.String(),
  created_at: Type.String(),
  source: Type.String(),
  aliases: Type.Array(Type.String()),
  metrics: Type.Record(Type.String(), Type.Number()),
});
const AliasChangeBody = Type.Object({
  alias: Type.String(),
  version: Type.Union([Type.String(), Type.Null()]),
  previous: Type.Union([Type.String(), Type.Null()]),
  at: Type.String(),
  reason: Type.String(),
});
const VersionParams = Type.Object({ version: Type.String({ pattern: '^v[1-9][0-9]*$', maxLength: 16 }) });
const errors = { 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

type Record_ = Awaited<ReturnType<ModelRegistry['list']>>[number];
const body = (r: Record_): Static<typeof ModelBody> => ({
  version: r.version,
  created_at: r.createdAt,
  source: r.source,
  aliases: r.aliases,
  metrics: r.metrics,
});

/**
 * The model registry for operators: list, show, promote, roll back and set the challenger, with the admin scope.
 * Predictors notice an alias move on their next poll and swap models without a restart.
 */
export function adminModelRoutes(deps: {
  registry: ModelRegistry;
  authorizeAdmin: PreHandler;
}): FastifyPluginAsync {
  const { registry } = deps;
  const common = { onRequest: deps.authorizeAdmin };
  const plugin = async (app: HttpServer): Promise<void> => {
    app.get(
      '/v1/admin/models',
      {
        ...common,
        schema: {
          summary: 'Registered model versions, newest first, with their aliases and hold-out metrics',
          security: [{ bearer: [] }],
          response: { 200: Type.Object({ models: Type.Array(ModelBody) }), ...errors },
        },
      },
      async () => ({ models: (await registry.list()).map(body) }),
    );
    app.get(
      '/v1/admin/models/:version',
      {
        ...common,
        schema: {
          summary: 'One model version and the alias moves that involved it',
          security: [{ bearer: [] }],
          params: VersionParams,
          response: {
            200: Type.Object({ model: ModelBody, history: Type.Array(AliasChangeBody) }),
            ...errors,
          },
        },
      },
      async (req) => {
        const record = await registry.get(req.params.version);
        if (!record) throw notFound(req.params.version);
        const history = [
          ...(await registry.aliasHistory('champion', 200)),
          ...(await registry.aliasHistory('challenger', 200)),
        ]
          .filter((h) => h.version === record.version || h.previous === record.version)
          .sort((a, b) => b.seq - a.seq)
          .map(({ seq: _seq, ...h }) => h);
        return { model: body(record), history };
      },
    );
    app.post(
      '/v1/admin/models/:version/promote',
      {
        ...common,
        schema: {
          summary: 'Make this version the champion; predictors load, validate and swap it in',
          security: [{ bearer: [] }],
          params: VersionParams,
          response: {
            200: Type.Object({ model: ModelBody, previous: Type.Union([Type.String(), Type.Null()]) }),
            ...errors,
          },
        },
      },
      async (req) => {
        const previous = (await registry.resolve('champion')) ?? null;
        const model = await promote(registry, req.params.version, `promote (admin API${who(req.principal)})`);
        return { model: body(model), previous };
      },
    );
    app.post(
      '/v1/admin/models/:version/challenger',
      {
        ...common,
        schema: {
          summary: 'Make this version the challenger (shadow and canary)',
          security: [{ bearer: [] }],
          params: VersionParams,
          response: { 200: Type.Object({ model: ModelBody }), ...errors },
        },
      },
      async (req) => {
        if (!(await registry.get(req.params.version))) throw notFound(req.params.version);
        await setChallenger(registry, req.params.version);
        return { model: body((await registry.get(req.params.version))!) };
      },
    );
    app.post(
      '/v1/admin/models/rollback',
      {
        ...common,
        schema: {
          summary: 'Move the champion back to the version it replaced',
          security: [{ bearer: [] }],
          response: { 200: Type.Object({ from: Type.String(), to: Type.String() }), ...errors },
        },
      },
      async () => rollback(registry),
    );
  };
  return plugin as unknown as FastifyPluginAsync;
}

const who = (p: { keyId?: string } | undefined): string => (p?.keyId ? ` by ${p.keyId}` : '');

function notFound(version: string): EtaError {
  return new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
}
