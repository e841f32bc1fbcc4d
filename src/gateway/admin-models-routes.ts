import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import {
  auditedRollback,
  guardedPromote,
  guardedSetChallenger,
  MIN_FORCE_REASON,
  policyConfigSchema,
  type PolicyConfig,
} from '../pipeline/index.js';
import { EtaError, type HttpServer, type Routes } from '../platform/index.js';
import type { ModelRegistry } from '../registry/index.js';
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
const PromoteBody = Type.Object(
  {
    force: Type.Optional(
      Type.Boolean({ description: 'Promote even though the policy refuses; needs a reason (audited)' }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 500, description: 'Why; required with force' })),
  },
  { additionalProperties: false },
);
const ComparisonBody = Type.Object({
  basis: Type.String(),
  rows: Type.Integer(),
  challenger: Type.Object({ version: Type.String(), mae_s: Type.Union([Type.Number(), Type.Null()]) }),
  champion: Type.Union([
    Type.Object({ version: Type.String(), mae_s: Type.Union([Type.Number(), Type.Null()]) }),
    Type.Null(),
  ]),
});
const AuditBody = Type.Object({
  at: Type.String(),
  action: Type.String({ description: 'promote, rollback, promote_refused or retention' }),
  version: Type.Union([Type.String(), Type.Null()]),
  previous: Type.Union([Type.String(), Type.Null()]),
  actor: Type.String({ description: 'API key id, "cli", "schedule" or "pipeline"' }),
  forced: Type.Boolean(),
  reason: Type.Union([Type.String(), Type.Null()]),
  summary: Type.String(),
});
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

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
  /** The promotion policy (pipeline.policy); its defaults when absent. */
  policy?: PolicyConfig;
}): Routes {
  const { registry } = deps;
  const policy = deps.policy ?? (Value.Default(policyConfigSchema, {}) as PolicyConfig);
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
          description: `The promotion policy compares it with the champion on the same recent hold-out orders. A challenger with a higher MAE, a coverage drop, other features or another training domain (city) is refused with 409 and the numbers, unless the body says {"force": true, "reason": "..."} (a reason of at least ${MIN_FORCE_REASON} characters). Every promotion and refusal is in GET /v1/admin/audit.`,
          security: [{ bearer: [] }],
          params: VersionParams,
          response: {
            200: Type.Object({
              model: ModelBody,
              previous: Type.Union([Type.String(), Type.Null()]),
              forced: Type.Boolean(),
              decision: Type.String(),
              comparison: ComparisonBody,
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        // The body is optional (a plain promotion sends none), so it is checked here rather than by the schema.
        const b = (req.body ?? {}) as Static<typeof PromoteBody>;
        if (!Value.Check(PromoteBody, b))
          throw new EtaError(
            'bad_request',
            'the body is optional; when sent it is {"force": true, "reason": "..."} (reason required with force)',
          );
        const outcome = await guardedPromote(registry, req.params.version, {
          policy,
          actor: actorOf(req.principal),
          via: `promote (admin API${req.principal?.keyId ? ` by ${req.principal.keyId}` : ''})`,
          ...(b.force !== undefined ? { force: b.force } : {}),
          ...(b.reason !== undefined ? { reason: b.reason } : {}),
        });
        const side = (s: { version: string; mae_s: number } | undefined) =>
          s ? { version: s.version, mae_s: Number.isFinite(s.mae_s) ? s.mae_s : null } : null;
        return {
          model: body(outcome.record),
          previous: outcome.previous,
          forced: outcome.forced,
          decision: outcome.decision.summary,
          comparison: {
            basis: outcome.comparison.basis,
            rows: outcome.comparison.rows,
            challenger: side(outcome.comparison.challenger)!,
            champion: side(outcome.comparison.champion),
          },
        };
      },
    );
    app.post(
      '/v1/admin/models/:version/challenger',
      {
        ...common,
        schema: {
          summary: 'Make this version the challenger (shadow and canary)',
          description:
            'Refused (409) for a version with other features or another training domain than the champion: a challenger answers live requests.',
          security: [{ bearer: [] }],
          params: VersionParams,
          response: { 200: Type.Object({ model: ModelBody }), ...errors },
        },
      },
      async (req) => {
        if (!(await registry.get(req.params.version))) throw notFound(req.params.version);
        await guardedSetChallenger(registry, req.params.version);
        return { model: body((await registry.get(req.params.version))!) };
      },
    );
    app.post(
      '/v1/admin/models/rollback',
      {
        ...common,
        schema: {
          summary: 'Move the champion back to the version it replaced',
          description:
            'Audited. With nothing to roll back: 409 with a plain message, and no audit entry (nothing happened).',
          security: [{ bearer: [] }],
          response: { 200: Type.Object({ from: Type.String(), to: Type.String() }), ...errors },
        },
      },
      async (req) => auditedRollback(registry, actorOf(req.principal)),
    );
    app.get(
      '/v1/admin/audit',
      {
        ...common,
        schema: {
          summary: 'The audit log of promotions, rollbacks, refusals and retention deletions, newest first',
          security: [{ bearer: [] }],
          querystring: Type.Object({
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
          }),
          response: { 200: Type.Object({ entries: Type.Array(AuditBody) }), ...errors },
        },
      },
      async (req) => ({ entries: await registry.audit(req.query.limit ?? 50) }),
    );
  };
  return plugin;
}

/** The audit log's actor: the API key id, else "api". */
const actorOf = (p: { keyId?: string } | undefined): string => p?.keyId ?? 'api';

function notFound(version: string): EtaError {
  return new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
}
