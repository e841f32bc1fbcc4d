/**
 * A store process's invalidation hub alone, for tests that stop it with signals: `node --import tsx
 * test/support/bus-hub.ts <heartbeat ms>` prints its URL on the first line, then advances `s-1` once.
 */
import { invalidationHubRoutes } from '../../src/cache/http-bus.js';
import { LocalInvalidationBus } from '../../src/cache/invalidation.js';
import { createHttpServer, createLogger, createMetrics } from '../../src/platform/index.js';

const hub = new LocalInvalidationBus();
await hub.advance(['s-1']);
const app = createHttpServer({
  name: 'store',
  logger: createLogger({ level: 'silent' }),
  metrics: createMetrics(),
  readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
});
await app.register(invalidationHubRoutes(hub, { heartbeatMs: Number(process.argv[2] ?? 100) }));
console.log(await app.listen({ port: 0, host: '127.0.0.1' }));
