import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeProcess } from '../src/app/compose.js';
import { loadAppConfig } from '../src/app/config.js';
import { StartupError } from '../src/app/internal-auth.js';
import { createLogger } from '../src/platform/index.js';
import { openModelRegistry } from '../src/registry/index.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import {
  DEMO_KEY,
  postJson,
  startCluster,
  TEMPLATE_DATA_DIR,
  waitFor,
  type Platform,
} from './support/processes.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { ensureTemplate } from './support/template.js';
import { nextLocalMs } from './support/times.js';

/**
 * The production shape on one machine: `etaserve up --redis URL --postgres URL` keeps its state only in shared
 * infrastructure (the event log in Redis Streams, catalog and registry in PostgreSQL), and a process of a
 * multi-process shape refuses a file event log it cannot share.
 */

const NOWHERE = 'http://127.0.0.1:9';

describe('a multi-process shape and the file event log', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const configWith = (env: Record<string, string>): ReturnType<typeof loadAppConfig> => {
    const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-shape-'));
    dirs.push(dir);
    return loadAppConfig({
      env: { ETASERVE_DATA_DIR: dir, ETASERVE_TOPOLOGY_PREDICTOR_URLS: NOWHERE, ...env },
    });
  };
  const logger = createLogger({ level: 'silent' });

  it('refuses a gateway with remote predictors over a file log, naming the keys to set', async () => {
    const attempt = composeProcess(configWith({}), ['gateway'], logger);
    await expect(attempt).rejects.toBeInstanceOf(StartupError);
    await expect(composeProcess(configWith({}), ['gateway'], logger)).rejects.toThrow(
      /events\.backend=redis and events\.redisUrl .*topology\.sharedDisk=true/,
    );
    // `auto` with no Redis URL is the file log too.
    await expect(
      composeProcess(configWith({ ETASERVE_EVENTS_BACKEND: 'file' }), ['store'], logger),
    ).rejects.toThrow(/refusing the file event log in a multi-process shape \(--target store\)/);
  });

  it('starts when the processes share one disk, or when the process opens no log', async () => {
    for (const [config, targets] of [
      [configWith({ ETASERVE_TOPOLOGY_SHARED_DISK: 'true' }), ['gateway']],
      // A predictor reaching store and geo remotely opens no event log.
      [
        configWith({ ETASERVE_TOPOLOGY_STORE_URL: NOWHERE, ETASERVE_TOPOLOGY_GEO_URL: NOWHERE }),
        ['predictor'],
      ],
      // Every module in one process is one process, whatever the topology says.
      [configWith({}), ['all']],
    ] as const) {
      const proc = await composeProcess(config, targets, logger);
      for (const l of proc.listeners) await l.app.close();
      await proc.manager.stopAll();
    }
  });
});

const STORE = 's-0001';
const destination = { lat: 48.8566, lng: 2.3522 };
/** An hour when the store is open, within the log's retention (as in events-projections.test.ts). */
const ORDERED_AT = nextLocalMs('Europe/Paris', 19, 40, { nowMs: Date.now() - 2 * 24 * 3600_000 });
const TOKEN = 'up-shared-infra-internal-token-0123456789';

function slowKitchen(prepSeconds: number): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 12; i++) {
    const accepted = ORDERED_AT - 60_000 * (30 - i);
    const base = { order_id: `shared-${i}`, store_id: STORE };
    events.push({
      event_id: `shared-acc-${i}`,
      type: 'order.accepted',
      occurred_at: new Date(accepted).toISOString(),
      ...base,
    });
    events.push({
      event_id: `shared-rdy-${i}`,
      type: 'order.ready',
      occurred_at: new Date(accepted + prepSeconds * 1000).toISOString(),
      ...base,
    });
  }
  return events;
}

/** The template's champion, registered in PostgreSQL: the cluster serves it without training first. */
async function seedRegistry(postgresUrl: string): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-template-copy-'));
  try {
    copyFileSync(path.join(TEMPLATE_DATA_DIR, 'etaserve.db'), path.join(dir, 'etaserve.db'));
    const from = openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, 'etaserve.db') });
    const to = openModelRegistry({ database: 'postgres', postgresUrl });
    try {
      const version = (await from.resolve('champion'))!;
      const record = (await from.get(version))!;
      const { golden, ...artifact } = (await from.loadArtifact(version)) as Record<string, unknown>;
      const profile = await from.loadProfile(version);
      const copied = await to.register(artifact, {
        source: record.source,
        metrics: record.metrics,
        ...(golden ? { golden: golden as never } : {}),
        ...(profile ? { profile } : {}),
      });
      await to.setAlias('champion', copied.version, 'test: the template champion');
      return copied.version;
    } finally {
      await from.close();
      await to.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('etaserve up --redis URL --postgres URL', () => {
  let redis: RedisServer | undefined;
  let postgres: TestPostgres | undefined;
  let cluster: Platform | undefined;
  let version = '';

  beforeAll(async () => {
    await ensureTemplate();
    redis = await startRedis();
    postgres = await startPostgres();
    if (!redis || !postgres) return;
    version = await seedRegistry(postgres.url);
    cluster = await startCluster(
      2,
      { ETASERVE_INTERNAL_TOKEN: TOKEN, ETASERVE_UP_RESTART_DELAY_MS: '200' },
      { args: ['--redis', redis.url, '--postgres', postgres.url] },
    );
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await redis?.stop();
    await postgres?.stop();
  });

  it('logs events in Redis Streams, keeps registry and keys in PostgreSQL, rebuilds a restarted store from the log', async (t) => {
    if (!cluster || !redis || !postgres) return t.skip();
    const output = cluster.running.output();
    expect(output).toContain('event log in Redis Streams, catalog and registry in PostgreSQL');
    const storeUrl = /^\s+store\s+(http:\/\/\S+)/m.exec(output)![1]!;

    // Acknowledged, and in the stream: no segment file anywhere under the data directory's events folder.
    const res = await postJson(`${cluster.url}/v1/events`, slowKitchen(1800), DEMO_KEY);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 24, duplicates: 0, rejected: [] });
    // The stream key is events.redisStream in a hash tag (one Redis Cluster slot).
    const client = new Redis(redis.url);
    try {
      const entries = (await client.xrange('{etaserve:events}', '-', '+')) as Array<[string, string[]]>;
      const ids = entries.map(
        ([, fields]) => (JSON.parse(fields[fields.indexOf('e') + 1]!) as { event_id: string }).event_id,
      );
      expect(ids.filter((id) => id.startsWith('shared-')).length).toBe(24);
    } finally {
      client.disconnect();
    }
    const eventsDir = path.join(cluster.dataDir, 'events');
    const files = existsSync(eventsDir) ? readdirSync(eventsDir, { recursive: true }).map(String) : [];
    expect(files.filter((f) => f.endsWith('.seg'))).toEqual([]);

    // An answer of the model registered in PostgreSQL.
    const eta = await postJson(`${cluster.url}/v1/eta`, {
      store_id: STORE,
      destination,
      ordered_at: new Date(ORDERED_AT).toISOString(),
    });
    expect(eta.status).toBe(200);
    expect(eta.body.model_version).toBe(version);
    // API keys too: one created through the gateway is a row in PostgreSQL (its hash), and it works.
    const created = await postJson(`${cluster.url}/v1/admin/keys`, {
      name: 'shared-infra',
      scopes: ['predict'],
    });
    expect(created.status).toBe(201);
    const withNewKey = await postJson(
      `${cluster.url}/v1/eta`,
      { store_id: STORE, destination, ordered_at: new Date(ORDERED_AT).toISOString() },
      created.body.key as string,
    );
    expect(withNewKey.status).toBe(200);
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    try {
      const rows = await db.query<{ version: string }>('SELECT version FROM model_versions');
      expect(rows.rows.map((r) => r.version)).toContain(version);
      const keys = await db.query<{ name: string }>('SELECT name FROM api_keys');
      expect(keys.rows.map((r) => r.name)).toContain('shared-infra');
    } finally {
      await db.end();
    }

    // The store's live state, asked of the store process itself (no cache in between).
    const prepEwma = async (): Promise<number | null> => {
      const r = await fetch(`${storeUrl}/internal/store/features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-etaserve-internal-token': TOKEN },
        body: JSON.stringify({ store_ids: [STORE], at_ms: ORDERED_AT }),
        signal: AbortSignal.timeout(2000),
      });
      if (!r.ok) throw new Error(`store features answered ${r.status}`);
      const body = (await r.json()) as { stores: Array<{ prep_ewma_seconds: number | null }> };
      return body.stores[0]!.prep_ewma_seconds;
    };
    await waitFor(async () => ((await prepEwma()) ?? 0) > 1500, 20_000, 'the store to project the events');

    // kill -9: `up` restarts it, and the new process has nothing but the log to rebuild from.
    const pid = cluster.pids.get('store')!;
    process.kill(pid, 'SIGKILL');
    await waitFor(
      () => /store restarted \(pid (\d+)\)/.test(cluster!.running.output()),
      30_000,
      'up to restart the store',
    );
    const newPid = Number(/store restarted \(pid (\d+)\)/.exec(cluster.running.output())![1]);
    expect(newPid).not.toBe(pid);
    await waitFor(async () => (await fetch(`${storeUrl}/readyz`)).ok, 60_000, 'the restarted store');
    await waitFor(
      async () => ((await prepEwma()) ?? 0) > 1500,
      20_000,
      'the restarted store to rebuild its live state from the log',
    );

    // And the answers follow: the prep component moved towards the slow kitchen.
    let n = 0;
    let prep = 0;
    await waitFor(
      async () => {
        const r = await postJson(`${cluster!.url}/v1/eta`, {
          store_id: STORE,
          destination,
          items: 1 + (n % 7),
          subtotal: 10 + n++,
          ordered_at: new Date(ORDERED_AT).toISOString(),
        });
        prep = r.status === 200 ? (r.body.components.prep_seconds as number) : 0;
        return Math.abs(prep - 1800) < 120;
      },
      20_000,
      'prep_seconds near 1800 s after the restart',
    );
  }, 180_000);
});
