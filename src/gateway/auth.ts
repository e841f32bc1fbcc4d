import type { FastifyReply, FastifyRequest } from 'fastify';
import { EtaError } from '../platform/index.js';
import type { ApiKeyStore, Principal, Scope } from './api-keys.js';
import type { RateLimiter } from './rate-limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * A route-level `onRequest` hook; declared without `this` so it fits every typed route. It runs before the body is
 * read and validated, so a key without the scope gets 403 (and no key 401) whatever the body.
 */
export type AuthHook = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
/** The former name, from when the check was a preHandler (after body validation). */
export type PreHandler = AuthHook;

/**
 * An `onRequest` hook that admits a request only with a valid key holding one of `scopes`, within its rate limit.
 * Register it as `onRequest`, never as `preHandler`: the scope check must come before body validation.
 */
export function authorize(
  keys: ApiKeyStore,
  limiter: RateLimiter,
  defaultLimit: number,
  ...scopes: Scope[]
): AuthHook {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization;
    if (!header)
      throw new EtaError('unauthorized', 'missing Authorization: Bearer <api key>', {
        field: 'authorization',
      });
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match)
      throw new EtaError('unauthorized', 'Authorization must be "Bearer <api key>"', {
        field: 'authorization',
      });
    const principal = keys.authenticate(match[1]!);
    if (!principal)
      throw new EtaError('unauthorized', 'unknown, expired or revoked API key', { field: 'authorization' });
    if (!scopes.some((s) => principal.scopes.includes(s))) {
      throw new EtaError('forbidden', `this key lacks the ${scopes.join(' or ')} scope`, {
        field: 'authorization',
      });
    }
    const limit = principal.rateLimitPerSecond ?? defaultLimit;
    const wait = await limiter.take(principal.keyId, limit);
    if (wait > 0) {
      void reply.header('retry-after', String(Math.ceil(wait)));
      throw new EtaError('rate_limited', `rate limit of ${limit} requests per second exceeded`, {
        retryAfter: Math.ceil(wait),
      });
    }
    req.principal = principal;
    if (principal.warmUp === true) req.warmUp = true;
  };
}
