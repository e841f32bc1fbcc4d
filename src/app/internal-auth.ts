import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  EtaError,
  INTERNAL_TOKEN_HEADER,
  isLoopback,
  StartupError,
  type PlatformConfig,
} from '../platform/index.js';

export { INTERNAL_TOKEN_HEADER, isLoopback, StartupError };

/** Shorter than this is guessable; `etaserve up` and the manifests' examples use 32 random bytes. */
const MIN_TOKEN_LENGTH = 16;

/** The internal token from `platform.internalTokenFile` (wins) or `platform.internalToken`; '' when neither. */
export function resolveInternalToken(platform: PlatformConfig): string {
  if (platform.internalTokenFile) {
    let text: string;
    try {
      text = readFileSync(platform.internalTokenFile, 'utf8');
    } catch (e) {
      throw new StartupError(
        `cannot read the internal token file ${platform.internalTokenFile} (platform.internalTokenFile): ${(e as Error).message}`,
      );
    }
    const token = text.trim();
    if (token === '')
      throw new StartupError(
        `the internal token file ${platform.internalTokenFile} (platform.internalTokenFile) is empty`,
      );
    return checkLength(token, `the token in ${platform.internalTokenFile}`);
  }
  return platform.internalToken === '' ? '' : checkLength(platform.internalToken, 'platform.internalToken');
}

function checkLength(token: string, what: string): string {
  if (token.length < MIN_TOKEN_LENGTH)
    throw new StartupError(`${what} is too short: use at least ${MIN_TOKEN_LENGTH} random characters`);
  return token;
}

/**
 * An `onRequest` hook that admits a request only with the internal token, compared in constant time. A token of
 * another length is refused before comparing: its length is all that tells, and the token's length is no secret
 * (`MIN_TOKEN_LENGTH` and up). No hash per request: this guard runs on every internal call of the hot path.
 */
export function internalTokenGuard(
  token: string,
): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const expected = Buffer.from(token);
  return async (req) => {
    const sent = req.headers[INTERNAL_TOKEN_HEADER];
    if (typeof sent !== 'string' || sent === '')
      throw new EtaError('unauthorized', `missing ${INTERNAL_TOKEN_HEADER}: this is an internal route`, {
        field: INTERNAL_TOKEN_HEADER,
      });
    const given = Buffer.from(sent);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new EtaError('forbidden', `wrong ${INTERNAL_TOKEN_HEADER}`, { field: INTERNAL_TOKEN_HEADER });
  };
}
