import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { Server } from 'node:http';
import { EtaError, type Logger } from '../platform/index.js';
import type { StoreCatalog } from './catalog.js';
import { storeNotFound } from './errors.js';
import { toFeatureJson, toLiveJson, toStoreJson } from './json.js';
import {
  BulkBody,
  BulkResponse,
  CountResponse,
  ErrorResponse,
  FeaturesBody,
  FeaturesResponse,
  ListQuery,
  LiveResponse,
  NoContent,
  PutResponse,
  StoreBody,
  StoreIdParams,
  StoreIdsBody,
  StoreJson,
  StoreListResponse,
  StorePatchBody,
  StorePutBody,
  StoresResponse,
} from './schemas.js';
import type { StoreService } from './service.js';
import { parseStore, parseStorePatch, type FieldIssue, type StorePatch } from './validate.js';
import type { NewStore } from './types.js';

export type StoreRoutes = FastifyPluginAsync<Record<never, never>, Server, TypeBoxTypeProvider, Logger>;

/** Where the internal routes live; `StoreClient` calls these paths. The plugin carries them: register it bare. */
export const STORE_INTERNAL_PREFIX = '/internal/store';

const errors = { 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse };

/** The first issue names the field; all of them travel in `issues` when there are several. */
function issuesError(issues: FieldIssue[]): EtaError {
  const first = issues[0]!;
  return new EtaError('bad_request', `${first.field}: ${first.message}`, {
    field: first.field,
    details: issues.length > 1 ? { issues } : undefined,
  });
}

function newStoreFrom(body: unknown, urlId?: string): NewStore {
  const input = body as Record<string, unknown>;
  if (urlId !== undefined && input.store_id !== undefined && input.store_id !== urlId) {
    throw new EtaError('bad_request', 'store_id: must equal the id in the URL', { field: 'store_id' });
  }
  const parsed = parseStore(urlId === undefined ? input : { ...input, store_id: urlId });
  if (!parsed.ok) throw issuesError(parsed.error);
  return parsed.value;
}

function patchFrom(body: unknown, storeId: string): StorePatch {
  const parsed = parseStorePatch(body, storeId);
  if (!parsed.ok) throw issuesError(parsed.error);
  return parsed.value;
}

export interface StoreCatalogRoutesOptions {
  catalog: StoreCatalog;
  /** onRequest hook for writes (the gateway's admin scope); before body validation, so 403 comes before 400. */
  authorizeAdmin: onRequestAsyncHookHandler;
  /** onRequest hook for reads (predict or admin); reads need admin when absent. */
  authorizeRead?: onRequestAsyncHookHandler;
}

/** The public `/v1/stores` CRUD the gateway mounts (bare: the paths are full). */
export function storeCatalogRoutes(options: StoreCatalogRoutesOptions): StoreRoutes {
  const { catalog } = options;
  const admin = options.authorizeAdmin as never;
  const read = (options.authorizeRead ?? options.authorizeAdmin) as never;
  const tags = ['stores'];
  return async (app) => {
    app.get(
      '/v1/stores',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'List stores, by store_id, a page at a time',
          querystring: ListQuery,
          response: { 200: StoreListResponse, ...errors },
        },
      },
      async (req) => {
        const page = await catalog.list({ limit: req.query.limit, cursor: req.query.cursor });
        return { stores: page.stores.map(toStoreJson), next_cursor: page.nextCursor };
      },
    );

    app.get(
      '/v1/stores/:store_id',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'One store',
          params: StoreIdParams,
          response: { 200: StoreJson, ...errors },
        },
      },
      async (req) => {
        const store = await catalog.get(req.params.store_id);
        if (!store) throw storeNotFound(req.params.store_id);
        return toStoreJson(store);
      },
    );

    app.post(
      '/v1/stores',
      {
        onRequest: admin,
        schema: { tags, summary: 'Create a store', body: StoreBody, response: { 201: StoreJson, ...errors } },
      },
      async (req, reply) => {
        const store = await catalog.create(newStoreFrom(req.body));
        void reply.header('location', `/v1/stores/${encodeURIComponent(store.storeId)}`);
        return reply.code(201).send(toStoreJson(store));
      },
    );

    app.put(
      '/v1/stores/:store_id',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Create or replace a store',
          params: StoreIdParams,
          body: StorePutBody,
          response: { 200: StoreJson, 201: StoreJson, ...errors },
        },
      },
      async (req, reply) => {
        const { store, created } = await catalog.put(newStoreFrom(req.body, req.params.store_id));
        return reply.code(created ? 201 : 200).send(toStoreJson(store));
      },
    );

    app.patch(
      '/v1/stores/:store_id',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Change some fields of a store',
          description:
            'Fields left out are unchanged. opening_hours merges by day: a day given replaces that day, [] or null closes it, days left out keep their hours. PUT the store to replace the whole week.',
          params: StoreIdParams,
          body: StorePatchBody,
          response: { 200: StoreJson, ...errors },
        },
      },
      async (req) =>
        toStoreJson(await catalog.patch(req.params.store_id, patchFrom(req.body, req.params.store_id))),
    );

    app.delete(
      '/v1/stores/:store_id',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Delete a store',
          params: StoreIdParams,
          response: { 204: NoContent, ...errors },
        },
      },
      async (req, reply) => {
        await catalog.delete(req.params.store_id);
        return reply.code(204).send(null);
      },
    );
  };
}

/**
 * The internal API of a store process: feature records and live state for predictors, and the catalog for a remote gateway. No key
 * auth here: the composition root registers it only on an internal listener, behind the shared internal token
 * (src/app/internal-auth.ts), and never in a one-process shape. Register it bare.
 */
export function storeInternalRoutes(service: StoreService): StoreRoutes {
  const p = STORE_INTERNAL_PREFIX;
  return async (app) => {
    app.post(
      `${p}/features`,
      { schema: { body: FeaturesBody, response: { 200: FeaturesResponse, ...errors } } },
      async (req) => {
        const records = await service.getStoreFeatures(req.body.store_ids, req.body.at_ms);
        return { stores: [...records.values()].map(toFeatureJson) };
      },
    );

    app.post(
      `${p}/live`,
      { schema: { body: StoreIdsBody, response: { 200: LiveResponse, ...errors } } },
      async (req) => {
        const live = await service.getLive(req.body.store_ids);
        return { stores: [...live].map(([id, s]) => ({ store_id: id, ...toLiveJson(s) })) };
      },
    );

    app.post(
      `${p}/lookup`,
      { schema: { body: StoreIdsBody, response: { 200: StoresResponse, ...errors } } },
      async (req) => {
        const stores = await service.getMany(req.body.store_ids);
        return { stores: [...stores.values()].map(toStoreJson) };
      },
    );

    app.get(
      `${p}/stores`,
      { schema: { querystring: ListQuery, response: { 200: StoreListResponse, ...errors } } },
      async (req) => {
        const page = await service.list({ limit: req.query.limit, cursor: req.query.cursor });
        return { stores: page.stores.map(toStoreJson), next_cursor: page.nextCursor };
      },
    );

    app.get(
      `${p}/stores/:store_id`,
      { schema: { params: StoreIdParams, response: { 200: StoreJson, ...errors } } },
      async (req) => {
        const store = await service.get(req.params.store_id);
        if (!store) throw storeNotFound(req.params.store_id);
        return toStoreJson(store);
      },
    );

    app.post(
      `${p}/stores`,
      { schema: { body: StoreBody, response: { 201: StoreJson, ...errors } } },
      async (req, reply) => {
        return reply.code(201).send(toStoreJson(await service.create(newStoreFrom(req.body))));
      },
    );

    app.put(
      `${p}/stores/:store_id`,
      { schema: { params: StoreIdParams, body: StorePutBody, response: { 200: PutResponse, ...errors } } },
      async (req) => {
        const { store, created } = await service.put(newStoreFrom(req.body, req.params.store_id));
        return { store: toStoreJson(store), created };
      },
    );

    app.patch(
      `${p}/stores/:store_id`,
      { schema: { params: StoreIdParams, body: StorePatchBody, response: { 200: StoreJson, ...errors } } },
      async (req) =>
        toStoreJson(await service.patch(req.params.store_id, patchFrom(req.body, req.params.store_id))),
    );

    app.delete(
      `${p}/stores/:store_id`,
      { schema: { params: StoreIdParams, response: { 204: NoContent, ...errors } } },
      async (req, reply) => {
        await service.delete(req.params.store_id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      `${p}/bulk`,
      { bodyLimit: 16 * 1024 * 1024, schema: { body: BulkBody, response: { 200: BulkResponse, ...errors } } },
      async (req) => {
        const stores = req.body.stores.map((s, i) => {
          const parsed = parseStore(s);
          if (!parsed.ok)
            throw issuesError(parsed.error.map((e) => ({ ...e, field: `stores.${i}.${e.field}` })));
          return parsed.value;
        });
        return service.upsertMany(stores);
      },
    );

    app.get(`${p}/count`, { schema: { response: { 200: CountResponse, ...errors } } }, async () => ({
      count: await service.count(),
    }));
  };
}
