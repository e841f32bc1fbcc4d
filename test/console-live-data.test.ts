import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createConsoleModule,
  LiveSampler,
  parsePrometheusText,
  registrySource,
  StoreTraffic,
} from '../src/console/index.js';

const allow = async (): Promise<void> => undefined;

function platformMetrics() {
  const registry = new Registry();
  const http = new Histogram({
    name: 'etaserve_http_request_duration_seconds',
    help: 'h',
    labelNames: ['route', 'method', 'status_code'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1],
    registers: [registry],
  });
  const cache = new Counter({
    name: 'etaserve_cache_requests_total',
    help: 'c',
    labelNames: ['cache', 'level', 'result'],
    registers: [registry],
  });
  const breaker = new Gauge({
    name: 'etaserve_breaker_state',
    help: 'b',
    labelNames: ['replica'],
    registers: [registry],
  });
  const events = new Counter({
    name: 'etaserve_events_ingested_total',
    help: 'e',
    labelNames: ['type', 'result'],
    registers: [registry],
  });
  return { registry, http, cache, breaker, events };
}

describe('the live view computed from the metrics registry', () => {
  it('turns counter and bucket increases into rates, quantiles, hit ratios and breaker states', async () => {
    const m = platformMetrics();
    const sampler = new LiveSampler({
      sources: [registrySource(m.registry)],
      rateWindowS: 5,
      quantileWindowS: 10,
    });
    // Traffic before the console looked does not count as a burst in its first second.
    for (let i = 0; i < 500; i++)
      m.http.observe({ route: '/v1/eta', method: 'POST', status_code: '200' }, 0.08);
    const t0 = 1_000_000;
    const first = await sampler.tick(t0);
    expect(first!.rps).toBe(0);

    for (let s = 1; s <= 5; s++) {
      // 20 requests a second: 18 fast, 2 slow; and an L1 that answers 3 lookups in 4.
      for (let i = 0; i < 18; i++)
        m.http.observe({ route: '/v1/eta', method: 'POST', status_code: '200' }, 0.002);
      for (let i = 0; i < 2; i++)
        m.http.observe({ route: '/v1/eta', method: 'POST', status_code: '200' }, 0.04);
      m.cache.inc({ cache: 'responses', level: 'l1', result: 'hit' }, 3);
      m.cache.inc({ cache: 'responses', level: 'l1', result: 'miss' }, 1);
      m.events.inc({ type: 'order.created', result: 'accepted' }, 10);
      m.events.inc({ type: 'order.created', result: 'missing_field' }, 4);
      await sampler.tick(t0 + s * 1000);
    }
    m.breaker.set({ replica: 'http://p1' }, 2);
    m.breaker.set({ replica: 'http://p2' }, 0);
    const point = (await sampler.tick(t0 + 6000))!;
    expect(point.routes['/v1/eta']!.rps).toBeCloseTo(16, 0);
    expect(point.routes['/v1/eta']!.p50).toBeGreaterThan(1);
    expect(point.routes['/v1/eta']!.p50).toBeLessThanOrEqual(5);
    expect(point.routes['/v1/eta']!.p99).toBeGreaterThan(10);
    expect(point.routes['/v1/eta']!.p99).toBeLessThanOrEqual(50);
    expect(point.cache['responses l1']).toEqual({ hit_ratio: 0.75, rps: expect.any(Number) });
    expect(point.breakers).toEqual({ 'http://p1': 'open', 'http://p2': 'closed' });
    // Rejected events are not ingested.
    expect(point.events_per_s).toBeCloseTo(8, 0);
    expect(sampler.history()).toHaveLength(7);
  });

  it('shows what the challenger does in shadow and how much a canary serves', async () => {
    const registry = new Registry();
    const shadowed = new Counter({
      name: 'etaserve_shadow_predictions_total',
      help: 's',
      labelNames: ['challenger'],
      registers: [registry],
    });
    const served = new Counter({
      name: 'etaserve_predictions_by_alias_total',
      help: 's',
      labelNames: ['alias'],
      registers: [registry],
    });
    const diff = new Histogram({
      name: 'etaserve_shadow_p50_difference_seconds',
      help: 'd',
      labelNames: ['challenger'],
      buckets: [5, 15, 30, 60, 120, 300],
      registers: [registry],
    });
    const sampler = new LiveSampler({ sources: [registrySource(registry)], rateWindowS: 5 });
    await sampler.tick(0);
    for (let i = 0; i < 100; i++) {
      shadowed.inc({ challenger: 'v2' });
      diff.observe({ challenger: 'v2' }, i < 90 ? 20 : 200);
      served.inc({ alias: i % 10 === 0 ? 'challenger' : 'champion' });
    }
    const point = (await sampler.tick(5000))!;
    expect(point.shadow.v2!.scored).toBe(100);
    expect(point.shadow.v2!.per_s).toBe(20);
    expect(point.shadow.v2!.diff_p50_s).toBeGreaterThan(15);
    expect(point.shadow.v2!.diff_p50_s).toBeLessThanOrEqual(30);
    expect(point.shadow.v2!.diff_p90_s).toBeLessThanOrEqual(30);
    expect(point.served_by).toEqual({ champion: 0.9, challenger: 0.1 });
  });

  it('keeps only the last 15 minutes of points', async () => {
    const m = platformMetrics();
    const sampler = new LiveSampler({ sources: [registrySource(m.registry)], historySize: 900 });
    for (let s = 0; s < 950; s++) await sampler.tick(s * 1000);
    const history = sampler.history();
    expect(history).toHaveLength(900);
    expect(history[0]!.t).toBe(50_000);
  });

  it('reads another process /metrics in the text format', () => {
    const samples = parsePrometheusText(
      [
        '# HELP etaserve_http_request_duration_seconds h',
        'etaserve_http_request_duration_seconds_bucket{le="+Inf",route="/internal/predict/batch",target="predictor"} 42',
        'etaserve_breaker_state{replica="http://127.0.0.1:8101"} 1',
        'process_cpu_seconds_total 3',
      ].join('\n'),
    );
    expect(samples).toEqual([
      {
        name: 'etaserve_http_request_duration_seconds_bucket',
        labels: { le: '+Inf', route: '/internal/predict/batch', target: 'predictor' },
        value: 42,
      },
      { name: 'etaserve_breaker_state', labels: { replica: 'http://127.0.0.1:8101' }, value: 1 },
    ]);
  });

  it('counts requests per store over the window and forgets old minutes', () => {
    let now = 0;
    const traffic = new StoreTraffic(15, () => now);
    traffic.record(['s-1', 's-2', 's-1']);
    now = 14 * 60_000;
    traffic.record(['s-2']);
    expect(traffic.top()).toEqual({
      windowSeconds: 900,
      total: 4,
      stores: [
        { storeId: 's-1', requests: 2 },
        { storeId: 's-2', requests: 2 },
      ],
    });
    now = 16 * 60_000;
    expect(traffic.top().stores).toEqual([{ storeId: 's-2', requests: 1 }]);
  });
});

describe('the console server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-console-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
  writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'favicon.svg'), '<svg/>');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function server() {
    const m = platformMetrics();
    const consoleModule = createConsoleModule({
      name: 'all',
      modules: ['gateway'],
      registry: m.registry,
      guard: allow,
      staticDir: dir,
    });
    const app = Fastify();
    await app.register(consoleModule.routes);
    return { app, consoleModule, m };
  }

  it('serves the app for every page, hashed assets for a year and index.html revalidated', async () => {
    const { app } = await server();
    for (const url of ['/', '/live', '/models', '/map']) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.body).toContain('id="root"');
    }
    const js = await app.inject({ url: '/assets/index-abc123.js' });
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toContain('immutable');
    const again = await app.inject({
      url: '/assets/index-abc123.js',
      headers: { 'if-none-match': js.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
    expect((await app.inject({ url: '/favicon.svg' })).headers['content-type']).toBe('image/svg+xml');
    expect((await app.inject({ url: '/assets/missing.js' })).statusCode).toBe(404);
    await app.close();
  });

  it('streams the history first, then a sample every tick, and ends streams when the server closes', async () => {
    const { app, consoleModule, m } = await server();
    m.http.observe({ route: '/v1/eta', method: 'POST', status_code: '200' }, 0.003);
    await consoleModule.sampler.tick(1000);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${url}/v1/admin/stream`);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: history')) text += (await reader.read()).value ?? '';
    m.http.observe({ route: '/v1/eta', method: 'POST', status_code: '200' }, 0.003);
    await consoleModule.sampler.tick(2000);
    while (!text.includes('event: sample')) text += (await reader.read()).value ?? '';
    const history = JSON.parse(/event: history\ndata: (.*)\n/.exec(text)![1]!) as {
      points: Array<{ t: number }>;
    };
    expect(history.points.map((p) => p.t)).toEqual([1000]);
    const sample = JSON.parse(/event: sample\ndata: (.*)\n/.exec(text)![1]!) as {
      t: number;
      routes: Record<string, unknown>;
    };
    expect(sample.t).toBe(2000);
    expect(Object.keys(sample.routes)).toEqual(['/v1/eta']);
    await app.close();
    // The stream ends with the server instead of holding its shutdown open.
    for (;;) if ((await reader.read()).done) break;
  });
});
