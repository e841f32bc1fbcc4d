import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuck, sqlString } from '../../src/pipeline/etl/duckdb.js';
import { generateHistory, historyApiEvents, type SimEvent } from '../../src/simulator/index.js';
import { toNewStoreJson } from '../../src/store/index.js';
import { containerToolchainMissing, ensureImage, removeContainers } from '../support/containers.js';
import { waitFor } from '../support/processes.js';
import { nextLocalIso, nextLocalMs } from '../support/times.js';
import { PREDICTORS_NAME, Topology, type Service } from '../support/topology.js';

/**
 * `npm run test:topology`: the production shape as containers of the etaserve image (two gateways, two predictors,
 * store, geo, orders, pipeline; each its own filesystem, only the pipeline's lake on a volume), over a Redis and a
 * PostgreSQL that the test starts. It ingests a simulated day through both gateways while one is replaced, trains
 * from the lake and promotes, loses a predictor under load, shares a key across gateways, forgets a customer and
 * follows an order's live ETA through both gateways.
 */

const EVENTS = 100_000;
const BATCH = 1000;
const STREAM = '{etaserve:events}';
const DAY = 86_400_000;
const GROUP = 'etaserve-topology-test';

const skipWhy = containerToolchainMissing();
if (skipWhy) {
  const message = `the topology test needs the container toolchain: ${skipWhy}`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${message}`);
  console.warn(`\n${'!'.repeat(100)}\n!! SKIPPED: ${message}\n${'!'.repeat(100)}\n`);
}

/** A simulated day of a small city (12 stores), two days ago: inside the log's retention and the training window. */
function simulatedDay(): { history: ReturnType<typeof generateHistory>; events: SimEvent[] } {
  const history = generateHistory({
    seed: 2026,
    days: 1,
    stores: 12,
    ordersPerDay: 5800,
    startMs: Math.floor(Date.now() / DAY) * DAY - 2 * DAY,
  });
  const events: SimEvent[] = [];
  for (const e of historyApiEvents(history, { customers: 2000 })) {
    events.push(e);
    if (events.length === EVENTS) break;
  }
  return { history, events };
}

interface Ack {
  accepted: number;
  duplicates: number;
  rejected: unknown[];
}

async function postEvents(gateway: Service, key: string, batch: SimEvent[]): Promise<Ack> {
  const res = await fetch(`${gateway.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(batch),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200) throw new Error(`POST /v1/events answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Ack;
}

/** Every event id in the stream. */
async function idsInLog(redisUrl: string): Promise<Set<string>> {
  const client = new Redis(redisUrl);
  const ids = new Set<string>();
  try {
    let cursor = '-';
    for (;;) {
      const page = (await client.xrange(STREAM, cursor, '+', 'COUNT', 10_000)) as Array<[string, string[]]>;
      for (const [, fields] of page)
        ids.add((JSON.parse(fields[fields.indexOf('e') + 1]!) as { event_id: string }).event_id);
      if (page.length < 10_000) return ids;
      cursor = `(${page[page.length - 1]![0]}`;
    }
  } finally {
    client.disconnect();
  }
}

async function lakeQuery<T>(lakeDir: string, sql: (events: string) => string): Promise<T[]> {
  const duck = await openDuck();
  try {
    const events = `read_parquet(${sqlString(`${lakeDir}/events/**/*.parquet`)}, hive_partitioning = true, union_by_name = true)`;
    return await duck.all<T>(sql(events));
  } finally {
    duck.close();
  }
}

/** Whether a store's weekly hours have it open at `hhmm` local time on every day (`11:00-01:00` wraps midnight). */
function openEveryDayAt(hours: Record<string, Array<[string, string]>>, hhmm: string): boolean {
  const days = Object.values(hours);
  return (
    days.length === 7 &&
    days.every((intervals) =>
      intervals.some(([from, to]) => (from <= to ? from <= hhmm && hhmm < to : from <= hhmm || hhmm < to)),
    )
  );
}

describe.skipIf(skipWhy !== undefined)('the production shape in containers', () => {
  let topology: Topology | undefined;
  const day = simulatedDay();
  // Requests to the stores open at 19:30-19:59 Paris time, for a destination inside each one's radius: every
  // answer is then a 200 unless something broke.
  const open = day.history.stores.filter(
    (s) => openEveryDayAt(s.openingHours, '19:30') && openEveryDayAt(s.openingHours, '19:59'),
  );
  const request = (i: number, minute = 40): Record<string, unknown> => {
    const store = open[i % open.length]!;
    return {
      store_id: store.storeId,
      destination: { lat: store.location.lat + 0.004 + (i % 10) * 0.0002, lng: store.location.lng },
      subtotal: 10 + i,
      ordered_at: nextLocalIso('Europe/Paris', 19, minute),
    };
  };
  let version = '';

  beforeAll(async () => {
    removeContainers(GROUP);
    const image = await ensureImage(15 * 60_000);
    console.error(
      `image etaserve:dev ${image.rebuilt ? 'built' : 'up to date'} in ${image.seconds.toFixed(0)} s`,
    );
    topology = await Topology.infrastructure(GROUP);
    if (!topology) throw new Error('Redis or PostgreSQL is missing: the topology test cannot run');
    await topology.start(['127.0.0.2', '127.0.0.3']);
    // The city's stores, through the public API.
    for (const store of day.history.stores) {
      const res = await fetch(`${topology.gateways[0]!.url}/v1/stores`, {
        method: 'POST',
        headers: topology.auth(),
        body: JSON.stringify(toNewStoreJson(store)),
      });
      expect(res.status, await res.text()).toBe(201);
    }
  }, 20 * 60_000);

  afterAll(async () => {
    await topology?.stop();
    removeContainers(GROUP);
  }, 120_000);

  it(
    'ingests a simulated day through both gateways while one is replaced: every acknowledged event is in the log once',
    async () => {
      const t = topology!;
      const batches: SimEvent[][] = [];
      for (let i = 0; i < day.events.length; i += BATCH) batches.push(day.events.slice(i, i + BATCH));
      const acknowledged = new Set<string>();
      let unacknowledged = 0;
      let replaced: Promise<Service> | undefined;
      let next = 0;
      // Four senders, alternating gateways. An unacknowledged batch (its gateway died under it) is sent again to the
      // other one, as a client does; acknowledged means the answer was 200.
      const sender = async (lane: number): Promise<void> => {
        for (;;) {
          const i = next++;
          if (i >= batches.length) return;
          if (i === batches.length / 2 && !replaced) {
            await t.remove(t.gateways[1]!);
            replaced = t.startGateway(1);
          }
          let gateway = (i + lane) % 2;
          for (let attempt = 0; ; attempt++) {
            try {
              const ack = await postEvents(t.gateways[gateway]!, t.adminKey, batches[i]!);
              expect(ack.rejected).toEqual([]);
              for (const e of batches[i]!) acknowledged.add(e.event_id);
              break;
            } catch (e) {
              unacknowledged++;
              if (attempt > 20) throw e;
              gateway = 0;
            }
          }
        }
      };
      await Promise.all([0, 1, 2, 3].map(sender));
      await replaced;
      expect(acknowledged.size).toBe(EVENTS);
      const inLog = await idsInLog(t.eventsRedis.url);
      const missing = [...acknowledged].filter((id) => !inLog.has(id));
      expect(missing).toEqual([]);
      // Nothing else in the log but the orders container's own alerts: the day's orders are two days old, so each
      // is past its promise when the orders container first sees it, and it writes an order.late_risk for it.
      const others = [...inLog].filter((id) => !acknowledged.has(id));
      expect(others.filter((id) => !id.startsWith('late-risk:'))).toEqual([]);
      expect(inLog.size - others.length).toBe(EVENTS);
      console.error(
        `ingest: ${EVENTS} events, ${unacknowledged} batch attempts unacknowledged and sent again; ` +
          `${others.length} order.late_risk alerts from the orders container`,
      );

      // A replay of the whole day through both gateways (the new one included): all duplicates.
      let accepted = 0;
      let duplicates = 0;
      await Promise.all(
        batches.map(async (batch, i) => {
          const ack = await postEvents(t.gateways[i % 2]!, t.adminKey, batch);
          accepted += ack.accepted;
          duplicates += ack.duplicates;
        }),
      );
      expect({ accepted, duplicates }).toEqual({ accepted: 0, duplicates: EVENTS });
    },
    10 * 60_000,
  );

  it(
    'writes the lake from the log, trains on it and promotes: both predictors serve the new version within 30 s',
    async () => {
      const t = topology!;
      // Before any model: the gateways answer with the fallback, and say so.
      const before = await fetch(`${t.gateways[0]!.url}/v1/eta`, {
        method: 'POST',
        headers: t.auth(),
        body: JSON.stringify(request(0, 30)),
      });
      expect(before.status).toBe(200);
      expect(((await before.json()) as { degraded?: boolean }).degraded).toBe(true);

      // The pipeline's lake writer follows the log.
      await waitFor(
        async () => {
          const [row] = await lakeQuery<{ n: bigint }>(
            t.lakeDir,
            (e) => `SELECT COUNT(DISTINCT event_id) AS n FROM ${e}`,
          );
          return Number(row?.n ?? 0) >= EVENTS;
        },
        120_000,
        'the lake to hold every event of the log',
      );

      // The training CronJob's command, in the pipeline's container (its lake, its environment).
      const trained = await t.pipeline.container.exec(['train', '--lake', '--json'], 10 * 60_000);
      expect(trained.code, trained.stderr).toBe(0);
      const result = JSON.parse(trained.stdout.slice(trained.stdout.indexOf('{'))) as {
        version: string;
        promoted: boolean;
        rows: number;
      };
      const promotedAt = Date.now();
      expect(result.promoted).toBe(true);
      expect(result.rows).toBeGreaterThan(3000);
      version = result.version;

      const serving = async (p: Service): Promise<string | undefined> => {
        const res = await fetch(`${p.url}/v2/models/eta`, {
          headers: t.internal(),
          signal: AbortSignal.timeout(1000),
        });
        if (!res.ok) return undefined;
        return ((await res.json()) as { versions: string[] }).versions[0];
      };
      await waitFor(
        async () => (await Promise.all([...t.predictors.values()].map(serving))).every((v) => v === version),
        30_000,
        `both predictors to serve ${version}`,
      );
      console.error(`promotion to serving on both predictors: ${Date.now() - promotedAt} ms`);

      // Geo, in its own container, serves the zone speeds the champion was trained with (from the registry: no
      // file of the pipeline's reaches it).
      await waitFor(
        async () => {
          const text = await (await fetch(`${t.geo.url}/metrics`)).text();
          return Number(/^etaserve_geo_speed_table_trips\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0) > 0;
        },
        15_000,
        "geo to serve the champion's learned zone speeds",
      );

      // The promotion is in the audit log, and the gateways answer with the model.
      const audit = await fetch(`${t.gateways[1]!.url}/v1/admin/audit`, { headers: t.auth() });
      expect(JSON.stringify(await audit.json())).toContain(version);
      await waitFor(
        async () => {
          const res = await fetch(`${t.gateways[1]!.url}/v1/eta`, {
            method: 'POST',
            headers: t.auth(),
            body: JSON.stringify(request(1, 35)),
          });
          const body = (await res.json()) as { model_version?: string; degraded?: boolean };
          return res.status === 200 && body.model_version === version && !body.degraded;
        },
        15_000,
        'a gateway to answer with the promoted model',
      );
    },
    15 * 60_000,
  );

  it(
    'answers every request under steady load while a predictor container is removed, and finds its replacement',
    async () => {
      const t = topology!;
      const metric = async (gateway: Service): Promise<string> =>
        (await fetch(`${gateway.url}/metrics`, { headers: t.auth() })).text();
      const breakers = (text: string): Map<string, number> =>
        new Map(
          [...text.matchAll(/^etaserve_breaker_state\{[^}]*replica="([^"]+)"[^}]*\} (\d+)/gm)].map((m) => [
            m[1]!,
            Number(m[2]),
          ]),
        );
      const name = (address: string): string =>
        `${PREDICTORS_NAME}@${address}:${new URL(t.predictors.get(address)!.url).port}`;
      // One breaker per replica, both closed.
      const initial = breakers(await metric(t.gateways[0]!));
      expect(initial.get(name('127.0.0.2'))).toBe(0);
      expect(initial.get(name('127.0.0.3'))).toBe(0);

      // Traffic before the test's: every open store has been asked for through each gateway, so both predictors know
      // each store (a predictor's first sight of a store waits on the store service, a cold start not tested here).
      for (const gateway of t.gateways)
        for (let i = 0; i < open.length * 2; i++)
          await waitFor(
            async () =>
              (
                await fetch(`${gateway!.url}/v1/eta`, {
                  method: 'POST',
                  headers: t.auth(),
                  body: JSON.stringify(request(5000 + i, 30)),
                })
              ).status === 200,
            10_000,
            'a warm-up answer',
          );

      // Open loop: one request every 20 ms for 12 s, each at its own time, whatever the previous ones do.
      const results: Array<Promise<{ status: number; degraded: boolean; error?: unknown }>> = [];
      const started = Date.now();
      const victim = t.predictors.get('127.0.0.3')!;
      let removed: Promise<void> | undefined;
      for (let i = 0; i < 600; i++) {
        const due = started + i * 20;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
        if (i === 200) removed = t.remove(victim);
        results.push(
          fetch(`${t.gateways[i % 2]!.url}/v1/eta`, {
            method: 'POST',
            headers: t.auth(),
            body: JSON.stringify(request(i)),
            signal: AbortSignal.timeout(10_000),
          }).then(
            async (res) => {
              const body = (await res.json()) as { degraded?: boolean; error?: unknown };
              // A failure keeps its error, so that the assertion below says what went wrong.
              return { status: res.status, degraded: Boolean(body.degraded), error: body.error };
            },
            (e: Error) => ({ status: 0, degraded: true, error: e.message }),
          ),
        );
      }
      await removed;
      const answers = await Promise.all(results);
      const failed = answers.filter((a) => a.status !== 200);
      expect(failed).toEqual([]);
      // Every answer came from the model, not the fallback: the survivor took the removed one's share.
      expect(answers.filter((a) => a.degraded).length).toBe(0);
      // The removed replica's breaker is open at the gateways that sent to it; the survivor's is closed.
      const after = breakers(await metric(t.gateways[0]!));
      expect(after.get(name('127.0.0.2'))).toBe(0);

      // The replacement comes up at a new address; the name now resolves to it, and the gateways find it.
      const replacement = await t.startPredictor('127.0.0.4');
      t.setPredictorAddresses(['127.0.0.2', '127.0.0.4']);
      await waitFor(
        async () => {
          const now = breakers(await metric(t.gateways[0]!));
          return now.get(name('127.0.0.4')) === 0 && !now.has(name('127.0.0.3'));
        },
        20_000,
        'the gateway to resolve the name again and balance over the replacement',
      );
      const served = async (): Promise<number> => {
        const text = await (await fetch(`${replacement.url}/metrics`, { headers: t.internal() })).text();
        return [
          ...text.matchAll(
            /^etaserve_http_request_duration_seconds_count\{[^}]*route="\/internal\/predict\/batch"[^}]*\} (\d+)/gm,
          ),
        ]
          .map((m) => Number(m[1]))
          .reduce((a, b) => a + b, 0);
      };
      // Its breaker shows as soon as the gateway knows it, but it is warming up (unready) a while yet: the gateway
      // sends it calls once its /readyz answers ready. Each request to a destination cell of its own, so none is
      // answered from the gateways' response cache (one nearer the store than its radius or not, it asks a predictor).
      const uncached = (k: number): Record<string, unknown> => {
        const body = request(1000 + k, 45);
        const { lat, lng } = body['destination'] as { lat: number; lng: number };
        return { ...body, destination: { lat: lat + 0.01 * (k % 20), lng: lng + 0.01 * Math.floor(k / 20) } };
      };
      let sent = 0;
      await waitFor(
        async () => {
          for (let i = 0; i < 10; i++)
            await fetch(`${t.gateways[0]!.url}/v1/eta`, {
              method: 'POST',
              headers: t.auth(),
              body: JSON.stringify(uncached(sent++)),
            });
          return (await served()) > 0;
        },
        60_000,
        'the replacement to turn ready and answer some of the requests',
      );
    },
    5 * 60_000,
  );

  it('a key created through one gateway works at the other, and once revoked fails at both', async () => {
    const t = topology!;
    const [a, b] = t.gateways as [Service, Service];
    const created = await fetch(`${a.url}/v1/admin/keys`, {
      method: 'POST',
      headers: t.auth(),
      body: JSON.stringify({ name: 'topology-partner', scopes: ['predict'] }),
    });
    expect(created.status).toBe(201);
    const {
      key,
      info: { id },
    } = (await created.json()) as { key: string; info: { id: string } };
    const eta = (gateway: Service): Promise<number> =>
      fetch(`${gateway.url}/v1/eta`, {
        method: 'POST',
        headers: t.auth(key),
        body: JSON.stringify(request(2, 50)),
      }).then((r) => r.status);
    await waitFor(async () => (await eta(b)) === 200, 5000, 'the new key at the other gateway');
    expect(await eta(a)).toBe(200);
    const revoked = await fetch(`${b.url}/v1/admin/keys/${id}`, {
      method: 'DELETE',
      headers: { authorization: t.auth().authorization! },
    });
    expect(revoked.status).toBeLessThan(300);
    await waitFor(
      async () => (await eta(a)) === 401 && (await eta(b)) === 401,
      5000,
      'the revoked key to fail at both gateways',
    );
  }, 60_000);

  it(
    'a forgotten customer is gone from the log, the lake and the store projection',
    async () => {
      const t = topology!;
      const customer = 'c-17';
      // Two orders of theirs in a kitchen now, and one of someone else's: the store container's live state holds
      // them (its projection of the log), as the kitchen count says.
      const store = open[0]!.storeId;
      const now = Date.now();
      const live = [
        { order: 'live-forgotten-1', who: customer },
        { order: 'live-forgotten-2', who: customer },
        { order: 'live-kept', who: 'c-other' },
      ];
      const fresh = live.flatMap(({ order, who }) => [
        {
          event_id: `${order}:created`,
          type: 'order.created',
          occurred_at: new Date(now - 60_000).toISOString(),
          order_id: order,
          store_id: store,
          customer_id: who,
          destination: request(0).destination,
          items: 2,
          subtotal: 25,
          quoted_eta_seconds: 1800,
          quoted_range_seconds: [1500, 2400],
          promised_at: new Date(now + 1_740_000).toISOString(),
          model_version: version,
        },
        {
          event_id: `${order}:accepted`,
          type: 'order.accepted',
          occurred_at: new Date(now - 30_000).toISOString(),
          order_id: order,
          store_id: store,
        },
      ]);
      const inKitchen = async (): Promise<number> => {
        const res = await fetch(`${t.store.url}/internal/store/features`, {
          method: 'POST',
          headers: t.internal(),
          body: JSON.stringify({ store_ids: [store], at_ms: Date.now() }),
        });
        return ((await res.json()) as { stores: Array<{ orders_in_kitchen: number }> }).stores[0]!
          .orders_in_kitchen;
      };
      const before = await inKitchen();
      expect(await postEvents(t.gateways[1]!, t.adminKey, fresh as SimEvent[])).toMatchObject({
        accepted: 6,
        duplicates: 0,
        rejected: [],
      });
      await waitFor(
        async () => (await inKitchen()) === before + 3,
        15_000,
        'the store to see the three orders',
      );

      const theirs = [
        ...day.events.filter((e) => e.customer_id === customer).map((e) => e.order_id as string),
        'live-forgotten-1',
        'live-forgotten-2',
      ];
      const forgot = await t.gateways[0]!.container.exec(
        ['events', 'forget', '--customer', customer, '--json'],
        120_000,
      );
      expect(forgot.code, forgot.stderr).toBe(0);
      expect(JSON.parse(forgot.stdout) as { orderIds: string[] }).toMatchObject({
        orderIds: expect.arrayContaining(theirs),
      });

      // The log: no entry of theirs is left.
      const client = new Redis(t.eventsRedis.url);
      try {
        const entries = (await client.xrange(STREAM, '-', '+')) as Array<[string, string[]]>;
        const left = entries.filter(([, f]) => {
          const e = JSON.parse(f[f.indexOf('e') + 1]!) as { order_id?: string; customer_id?: string };
          return e.customer_id === customer || theirs.includes(e.order_id ?? '');
        });
        expect(left).toEqual([]);
      } finally {
        client.disconnect();
      }
      // The store container's projection, told through the forget journal: their orders leave the kitchen.
      await waitFor(
        async () => (await inKitchen()) === before + 1,
        15_000,
        "the store projection to drop the customer's orders",
      );
      // The lake, written by another container: its partitions are rewritten without them.
      const list = theirs.map(sqlString).join(', ');
      await waitFor(
        async () => {
          const [row] = await lakeQuery<{ n: bigint }>(
            t.lakeDir,
            (e) => `SELECT COUNT(*) AS n FROM ${e} WHERE order_id IN (${list})`,
          );
          return Number(row?.n ?? -1) === 0;
        },
        60_000,
        'the lake to forget the customer',
      );
    },
    5 * 60_000,
  );

  it('an order posted through one gateway answers the same live ETA at both, from the one orders container', async () => {
    const t = topology!;
    const store = open[0]!;
    // Tomorrow evening (19:35 Paris): the store is open and the legs learnt that hour. The orders container's clock
    // follows the events there (orders.eventClock), so both answers are computed at the same instant.
    const createdMs = nextLocalMs('Europe/Paris', 19, 35, { nowMs: Date.now() + DAY });
    const iso = (ms: number): string => new Date(ms).toISOString();
    const order = `topology-order-${createdMs}`;
    const events = [
      {
        event_id: `${order}:created`,
        type: 'order.created',
        occurred_at: iso(createdMs),
        order_id: order,
        store_id: store.storeId,
        customer_id: 'c-topology',
        destination: request(0).destination,
        items: 2,
        subtotal: 25,
        quoted_eta_seconds: 1800,
        quoted_range_seconds: [1500, 2400],
        promised_at: iso(createdMs + 1_800_000),
        model_version: version,
      },
      {
        event_id: `${order}:accepted`,
        type: 'order.accepted',
        occurred_at: iso(createdMs + 120_000),
        order_id: order,
        store_id: store.storeId,
      },
    ];
    expect(await postEvents(t.gateways[0]!, t.adminKey, events as SimEvent[])).toMatchObject({
      accepted: 2,
      duplicates: 0,
      rejected: [],
    });
    interface Answer {
      stage: string;
      eta_at: string;
      model_version: string;
    }
    const eta = async (gateway: Service): Promise<Answer | undefined> => {
      const res = await fetch(`${gateway.url}/v1/orders/${order}/eta`, { headers: t.auth() });
      if (res.status === 200) return (await res.json()) as Answer;
      await res.body?.cancel();
      return undefined;
    };
    // The orders container projects the log; the other gateway asks it.
    await waitFor(
      async () => (await eta(t.gateways[1]!))?.stage === 'accepted',
      15_000,
      'the order to be accepted at the other gateway',
    );
    const [a, b] = await Promise.all(t.gateways.map(eta));
    const seen = (x: Answer | undefined) => ({
      stage: x?.stage,
      eta_at: x?.eta_at,
      model_version: x?.model_version,
    });
    expect(seen(a)).toEqual(seen(b));
    expect(a?.stage).toBe('accepted');
    expect(Date.parse(a!.eta_at)).toBeGreaterThan(createdMs);
  });
});
