import { describe, expect, it } from 'vitest';
import { Counter, counterSeries, Histogram, histogramSeries, LATENCY_BUCKETS, Registry } from './metrics.js';

function pair(): { direct: Registry; viaSeries: Registry } {
  return { direct: new Registry(), viaSeries: new Registry() };
}

const histogram = (registry: Registry): Histogram<'route' | 'status_code'> =>
  new Histogram({
    name: 'etaserve_test_seconds',
    help: 'test',
    labelNames: ['route', 'status_code'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

const counter = (registry: Registry): Counter<'cache' | 'result'> =>
  new Counter({
    name: 'etaserve_test_total',
    help: 'test',
    labelNames: ['cache', 'result'],
    registers: [registry],
  });

describe('metric series', () => {
  it('scrape exactly what prom-client would have exported for the same observations', async () => {
    const { direct, viaSeries } = pair();
    const h1 = histogram(direct);
    const h2 = histogram(viaSeries);
    const c1 = counter(direct);
    const c2 = counter(viaSeries);
    const ok = histogramSeries(h2, { route: '/v1/eta', status_code: '200' });
    const bad = histogramSeries(h2, { route: '/v1/eta', status_code: 400 });
    const hits = counterSeries(c2, { cache: 'responses', result: 'hit' });
    const values = [0.00005, 0.0001, 0.0003, 0.002, 0.02, 0.7, 3, 9, 0.0001];
    for (const v of values) {
      h1.observe({ route: '/v1/eta', status_code: '200' }, v);
      ok.observe(v);
    }
    h1.observe({ route: '/v1/eta', status_code: '400' }, 0.004);
    bad.observe(0.004);
    c1.inc({ cache: 'responses', result: 'hit' }, 3);
    hits.inc();
    hits.inc(2);
    expect(await viaSeries.metrics()).toBe(await direct.metrics());

    // Later observations land in the next scrape, and a reset series starts again from zero.
    ok.observe(0.01);
    h1.observe({ route: '/v1/eta', status_code: '200' }, 0.01);
    expect(await viaSeries.metrics()).toBe(await direct.metrics());
    viaSeries.resetMetrics();
    direct.resetMetrics();
    hits.inc();
    c1.inc({ cache: 'responses', result: 'hit' });
    expect(await viaSeries.metrics()).toBe(await direct.metrics());
  });

  it('show a label set only once it has been observed, like prom-client', async () => {
    const { direct, viaSeries } = pair();
    histogram(direct);
    counter(direct);
    histogramSeries(histogram(viaSeries), { route: '/v1/eta', status_code: '200' });
    counterSeries(counter(viaSeries), { cache: 'responses', result: 'miss' });
    expect(await viaSeries.metrics()).toBe(await direct.metrics());
  });

  it('refuse a value that is not a number, as observe does', () => {
    const series = histogramSeries(histogram(new Registry()), { route: '/x', status_code: '200' });
    expect(() => series.observe(Number.NaN)).toThrow(TypeError);
  });
});
