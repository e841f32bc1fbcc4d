import { useEffect, useMemo, useState } from 'react';
import { streamEvents } from '../api';
import { Chart, type Series } from '../components/Chart';
import { Badge, Card, Empty, Stat } from '../components/ui';
import { fmtMs, fmtNum, fmtPct, PALETTE } from '../format';

/** One second of the platform (src/console/snapshot.ts). */
export interface LivePoint {
  t: number;
  rps: number;
  routes: Record<string, { rps: number; p50: number | null; p95: number | null; p99: number | null }>;
  cache: Record<string, { hit_ratio: number | null; rps: number }>;
  breakers: Record<string, string>;
  degraded_per_s: number;
  events_per_s: number;
  model_versions: string[];
  psi: Record<string, number>;
  online: Record<string, { mae_s: number | null; bias_s: number | null }>;
  shadow: Record<
    string,
    { scored: number; per_s: number; diff_p50_s: number | null; diff_p90_s: number | null }
  >;
  served_by: Record<string, number>;
}

const HISTORY = 900;

/** The live stream as React state: the 15-minute history, then one point a second. */
export function useLiveStream(onUnauthorized?: () => void): { points: LivePoint[]; status: string } {
  const [points, setPoints] = useState<LivePoint[]>([]);
  const [status, setStatus] = useState('connecting');
  useEffect(() => {
    const abort = new AbortController();
    void streamEvents(
      '/v1/admin/stream',
      (event, data) => {
        if (event === 'history') setPoints((JSON.parse(data) as { points: LivePoint[] }).points);
        else if (event === 'sample') {
          const p = JSON.parse(data) as LivePoint;
          setPoints((prev) =>
            prev.length >= HISTORY ? [...prev.slice(prev.length - HISTORY + 1), p] : [...prev, p],
          );
        }
      },
      (s) => {
        setStatus(s);
        if (s === 'unauthorized') onUnauthorized?.();
      },
      abort.signal,
    );
    return () => abort.abort();
  }, [onUnauthorized]);
  return { points, status };
}

const BREAKER_TONE: Record<string, 'good' | 'warn' | 'bad'> = {
  closed: 'good',
  half_open: 'warn',
  open: 'bad',
};

export function Live({ onUnauthorized }: { onUnauthorized: () => void }) {
  const { points, status } = useLiveStream(onUnauthorized);
  const latest = points[points.length - 1];
  const xs = useMemo(() => points.map((p) => p.t / 1000), [points]);

  const routes = useMemo(() => {
    const last = latest?.routes ?? {};
    const seen = new Set<string>();
    for (const p of points) for (const r of Object.keys(p.routes)) seen.add(r);
    return [...seen].sort((a, b) => (last[b]?.rps ?? 0) - (last[a]?.rps ?? 0));
  }, [points, latest]);
  const [picked, setPicked] = useState<string | null>(null);
  const route = picked ?? (routes.includes('/v1/eta') ? '/v1/eta' : routes[0]) ?? null;
  const chartRoutes = routes.slice(0, 6);

  const rpsSeries: Series[] = chartRoutes.map((r, i) => ({ label: r, colour: PALETTE[i % PALETTE.length]! }));
  const rpsData = [xs, ...chartRoutes.map((r) => points.map((p) => p.routes[r]?.rps ?? 0))];

  const latData = useMemo(
    () => [
      xs,
      ...(['p50', 'p95', 'p99'] as const).map((q) =>
        points.map((p) => (route ? (p.routes[route]?.[q] ?? null) : null)),
      ),
    ],
    [xs, points, route],
  );

  const caches = useMemo(() => {
    const seen = new Set<string>();
    for (const p of points) for (const c of Object.keys(p.cache)) seen.add(c);
    return [...seen].sort();
  }, [points]);
  const cacheData = useMemo(
    () => [
      xs,
      ...caches.map((c) =>
        points.map((p) => ((p.cache[c]?.hit_ratio ?? null) === null ? null : p.cache[c]!.hit_ratio! * 100)),
      ),
    ],
    [xs, points, caches],
  );
  const flowData = useMemo(
    () => [xs, points.map((p) => p.degraded_per_s), points.map((p) => p.events_per_s)],
    [xs, points],
  );

  if (!latest) {
    return (
      <div className="page">
        <PageHead status={status} />
        <Empty>Waiting for the first sample from the stream…</Empty>
      </div>
    );
  }
  const eta = latest.routes['/v1/eta'];
  const breakers = Object.entries(latest.breakers);
  return (
    <div className="page">
      <PageHead status={status} />
      <div className="stats">
        <Stat label="Requests / s" value={fmtNum(latest.rps)} hint="public API, last 5 s" testId="stat-rps" />
        <Stat
          label="ETA p99"
          value={fmtMs(eta?.p99)}
          hint={`p50 ${fmtMs(eta?.p50)} · p95 ${fmtMs(eta?.p95)}`}
          testId="stat-p99"
        />
        <Stat
          label="Degraded / s"
          value={fmtNum(latest.degraded_per_s, 2)}
          tone={latest.degraded_per_s > 0 ? 'warn' : undefined}
          hint="fallback answers"
        />
        <Stat label="Events / s" value={fmtNum(latest.events_per_s)} hint="ingested" />
        <Stat label="Model" value={latest.model_versions.join(', ') || '–'} hint="serving now" />
      </div>
      <div className="grid two">
        <Card title="Requests per second, by route" className="span">
          {chartRoutes.length ? (
            <Chart data={rpsData} series={rpsSeries} yLabel="req/s" yMin={0} testId="chart-rps" />
          ) : (
            <Empty>No API traffic yet.</Empty>
          )}
        </Card>
        <Card
          title="Latency"
          actions={
            <select aria-label="Route" value={route ?? ''} onChange={(e) => setPicked(e.target.value)}>
              {routes.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          }
        >
          <Chart
            data={latData}
            series={[
              { label: 'p50', colour: PALETTE[1]! },
              { label: 'p95', colour: PALETTE[2]! },
              { label: 'p99', colour: PALETTE[3]! },
            ]}
            yLabel="ms"
            yMin={0}
            testId="chart-latency"
          />
        </Card>
        <Card title="Cache hit ratio">
          {caches.length ? (
            <Chart
              data={cacheData}
              series={caches.map((c, i) => ({ label: c, colour: PALETTE[i % PALETTE.length]! }))}
              yLabel="%"
              yMin={0}
              yMax={100}
            />
          ) : (
            <Empty>No cache lookups yet.</Empty>
          )}
        </Card>
        <Card title="Degraded answers and events">
          <Chart
            data={flowData}
            series={[
              { label: 'degraded / s', colour: PALETTE[3]! },
              { label: 'events / s', colour: PALETTE[4]! },
            ]}
            yLabel="per s"
            yMin={0}
          />
        </Card>
        <Card title="Circuit breakers">
          {breakers.length ? (
            <ul className="breakers">
              {breakers.map(([replica, state]) => (
                <li key={replica}>
                  <span className="mono">{replica}</span>
                  <Badge tone={BREAKER_TONE[state] ?? 'muted'}>{state.replace('_', '-')}</Badge>
                </li>
              ))}
            </ul>
          ) : (
            <Empty>The predictor runs in this process: no replicas, no breakers.</Empty>
          )}
        </Card>
      </div>
      <Card title="Routes now">
        <div className="table-wrap">
          <table className="table" data-testid="routes-table">
            <thead>
              <tr>
                <th>Route</th>
                <th className="num">req/s</th>
                <th className="num">p50</th>
                <th className="num">p95</th>
                <th className="num">p99</th>
              </tr>
            </thead>
            <tbody>
              {routes.map((r) => {
                const v = latest.routes[r];
                return (
                  <tr key={r} className={r === route ? 'selected' : ''} onClick={() => setPicked(r)}>
                    <td className="mono">{r}</td>
                    <td className="num">{fmtNum(v?.rps)}</td>
                    <td className="num">{fmtMs(v?.p50)}</td>
                    <td className="num">{fmtMs(v?.p95)}</td>
                    <td className="num">{fmtMs(v?.p99)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {Object.keys(latest.cache).length > 0 && (
          <p className="muted small">
            Cache hit ratio now:{' '}
            {Object.entries(latest.cache)
              .map(([c, v]) => `${c} ${fmtPct(v.hit_ratio)}`)
              .join(' · ')}
          </p>
        )}
      </Card>
    </div>
  );
}

function PageHead({ status }: { status: string }) {
  return (
    <header className="page-head">
      <div>
        <h1>Live</h1>
        <p className="muted">
          Traffic, latency, caches and breakers over the last 15 minutes, one point a second.
        </p>
      </div>
      <Badge tone={status === 'open' ? 'good' : status === 'retrying' ? 'warn' : 'muted'}>
        {status === 'open' ? '● live' : status}
      </Badge>
    </header>
  );
}
