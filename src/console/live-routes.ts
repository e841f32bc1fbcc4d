import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Routes } from '../platform/index.js';
import type { ServerResponse } from 'node:http';
import type { LiveSampler } from './sampler.js';

export type AdminGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * The live page's data. `GET /v1/admin/stream` is Server-Sent Events: first `history` (the last 15 minutes), then
 * one `sample` a second. The page reads it with fetch, not EventSource, because EventSource cannot send the
 * Authorization header. `GET /v1/admin/live` is the same history as one JSON document.
 */
export function liveRoutes(sampler: LiveSampler, guard: AdminGuard): Routes {
  const open = new Set<ServerResponse>();
  return async (app) => {
    // Streams never go idle, so the server would wait for them at shutdown: end them first.
    app.addHook('preClose', async () => {
      for (const res of open) res.end();
      open.clear();
    });

    app.get('/v1/admin/live', { onRequest: guard, schema: { hide: true } }, async () => ({
      points: sampler.history(),
    }));

    // No HEAD twin: a stream's headers go out with its first write, which HEAD never makes, so it would hang.
    const stream = { onRequest: guard, schema: { hide: true }, exposeHeadRoute: false };
    app.get('/v1/admin/stream', stream, async (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': req.id,
      });
      res.write(`retry: 2000\nevent: history\ndata: ${JSON.stringify({ points: sampler.history() })}\n\n`);
      open.add(res);
      const unsubscribe = sampler.subscribe((point) => {
        res.write(`event: sample\ndata: ${JSON.stringify(point)}\n\n`);
      });
      const done = (): void => {
        unsubscribe();
        open.delete(res);
      };
      res.once('close', done);
      req.raw.once('close', done);
    });
  };
}
