import { useEffect, useMemo, useState } from 'react';
import { get } from '../api';
import {
  accuracyByVersion,
  accuracyByZone,
  accuracyPairs,
  accuracyWindows,
  driftOf,
  segmentCoverageOf,
  zoneAlarmsOf,
  type DriftFigure,
} from '../accuracy';
import { Chart, type Series } from '../components/Chart';
import { Badge, Card, Empty, ErrorNote, Loading, Stat } from '../components/ui';
import { fmtNum, fmtPct, PALETTE } from '../format';
import { useLiveStream } from './Live';

type Json = Record<string, unknown>;

/** PSI above 0.25 is the usual sign that a feature's population moved; 0.1–0.25 is worth a look. */
function psiTone(x: number): 'good' | 'warn' | 'bad' {
  return x >= 0.25 ? 'bad' : x >= 0.1 ? 'warn' : 'good';
}

/**
 * A server that judges drift has the last word: red only for its 'drift', grey when it had too few samples to
 * judge. Without a verdict, the PSI thresholds as before.
 */
function driftTone(f: DriftFigure): 'good' | 'warn' | 'bad' | 'muted' {
  if (f.status === 'insufficient') return 'muted';
  if (f.status === 'drift') return 'bad';
  const tone = psiTone(f.psi ?? 0);
  return f.status === 'ok' && tone === 'bad' ? 'warn' : tone;
}

const minutes = (s: number | null): string => (s === null ? '–' : `${fmtNum(s / 60, 2)} min`);

export function Accuracy() {
  const [body, setBody] = useState<Json | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { points } = useLiveStream();

  useEffect(() => {
    let live = true;
    const load = (): void =>
      void get<Json>('/v1/admin/accuracy').then(
        (b) => {
          if (!live) return;
          setBody(b ?? {});
          setError(null);
        },
        (e: unknown) => live && setError(e),
      );
    load();
    const t = setInterval(load, 10_000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);

  const hourly = useMemo(() => (body ? accuracyWindows(body) : []), [body]);
  const pairs = useMemo(() => (body ? accuracyPairs(body) : []), [body]);
  const versions = useMemo(() => (body ? accuracyByVersion(body) : []), [body]);
  const zones = useMemo(() => (body ? accuracyByZone(body).slice(0, 12) : []), [body]);
  const zoneAlarms = useMemo(() => zoneAlarmsOf(body), [body]);
  const segments = useMemo(() => segmentCoverageOf(body).filter((s) => s.outcomes > 0), [body]);
  const latest = points[points.length - 1];
  const drift = useMemo(
    () => ({ ...driftOf(latest as unknown as Json | undefined), ...driftOf(body) }),
    [body, latest],
  );

  // The last 15 minutes per model version, from the accuracy gauges the live stream samples.
  const liveVersions = useMemo(() => {
    const seen = new Set<string>();
    for (const p of points) for (const v of Object.keys(p.online ?? {})) seen.add(v);
    return [...seen].sort();
  }, [points]);
  const liveData = useMemo(() => {
    const xs = points.map((p) => p.t / 1000);
    const col = (v: string, k: 'mae_s' | 'bias_s'): Array<number | null> =>
      points.map((p) => {
        const x = p.online?.[v]?.[k];
        return x === null || x === undefined ? null : x / 60;
      });
    return [xs, ...liveVersions.map((v) => col(v, 'mae_s')), ...liveVersions.map((v) => col(v, 'bias_s'))];
  }, [points, liveVersions]);
  const liveSeries: Series[] = [
    ...liveVersions.map((v, i) => ({ label: `${v} MAE`, colour: PALETTE[i % PALETTE.length]! })),
    ...liveVersions.map((v, i) => ({
      label: `${v} bias`,
      colour: PALETTE[i % PALETTE.length]!,
      dash: [6, 4],
    })),
  ];

  const hourXs = hourly.map((w) => w.t);
  const sortedPairs = [...pairs].sort((a, b) => a.predicted - b.predicted);
  const pairMax = Math.max(60, ...pairs.map((p) => Math.max(p.predicted, p.actual) / 60));
  // Judged features first (drift, then by PSI); those without enough samples last.
  const psiRows = Object.entries(drift).sort(
    (a, b) =>
      Number(a[1].status === 'insufficient') - Number(b[1].status === 'insufficient') ||
      Number(b[1].status === 'drift') - Number(a[1].status === 'drift') ||
      (b[1].psi ?? 0) - (a[1].psi ?? 0),
  );
  const psiMax = Math.max(0.3, ...psiRows.map(([, v]) => v.psi ?? 0));
  const hasLive = liveVersions.length > 0;

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Accuracy</h1>
          <p className="muted">
            Delivered orders joined with the ETA they were quoted: error and bias per model version, and drift
            of each feature against its training data.
          </p>
        </div>
      </header>
      <ErrorNote error={error} />
      {!body && !error && <Loading what="accuracy" />}
      {versions.length > 0 && (
        <div className="stats" data-testid="accuracy-versions">
          {versions.map((v) => (
            <Stat
              key={v.version}
              label={`${v.version} online MAE`}
              value={minutes(v.mae)}
              hint={`bias ${minutes(v.bias)} · ${fmtNum(v.n, 0)} orders${v.coverage !== null ? ` · in range ${fmtPct(v.coverage)}` : ''}`}
            />
          ))}
        </div>
      )}
      <div className="grid two">
        <Card
          title={hasLive ? 'Online MAE and bias, last 15 minutes' : 'Online MAE and bias by hour'}
          className="span"
        >
          {hasLive ? (
            <Chart data={liveData} series={liveSeries} yLabel="minutes" testId="chart-accuracy" />
          ) : hourXs.length > 0 ? (
            <Chart
              data={[
                hourXs,
                hourly.map((w) => (w.mae === null ? null : w.mae / 60)),
                hourly.map((w) => (w.bias === null ? null : w.bias / 60)),
              ]}
              series={[
                { label: 'MAE', colour: PALETTE[0]! },
                { label: 'bias', colour: PALETTE[2]!, dash: [6, 4] },
              ]}
              yLabel="minutes"
              testId="chart-accuracy"
            />
          ) : (
            <Empty>No delivered orders have been joined with their quotes yet.</Empty>
          )}
        </Card>
        {hasLive && hourXs.length > 1 && (
          <Card title="By hour of order" className="span">
            <Chart
              data={[
                hourXs,
                hourly.map((w) => (w.mae === null ? null : w.mae / 60)),
                hourly.map((w) => (w.bias === null ? null : w.bias / 60)),
              ]}
              series={[
                { label: 'MAE', colour: PALETTE[0]! },
                { label: 'bias', colour: PALETTE[2]!, dash: [6, 4] },
              ]}
              yLabel="minutes"
              height={180}
            />
          </Card>
        )}
        {pairs.length > 0 ? (
          <Card title="Predicted vs actual">
            <Chart
              time={false}
              data={[
                sortedPairs.map((p) => p.predicted / 60),
                sortedPairs.map((p) => p.actual / 60),
                sortedPairs.map((p) => p.predicted / 60),
              ]}
              series={[
                { label: 'orders', colour: PALETTE[0]!, points: true },
                { label: 'perfect', colour: '#94a3b8', dash: [4, 4] },
              ]}
              xLabel="predicted, min"
              yLabel="actual, min"
              yMin={0}
              yMax={pairMax}
            />
          </Card>
        ) : (
          <Card title="Quoted vs delivered, by zone">
            {zones.length > 0 ? (
              <div className="table-wrap">
                {' '}
                <table className="table compact" data-testid="accuracy-zones">
                  <thead>
                    <tr>
                      <th>Zone (H3)</th>
                      <th className="num">Orders</th>
                      <th className="num">MAE</th>
                      <th className="num">Bias</th>
                    </tr>
                  </thead>
                  <tbody>
                    {zones.map((z) => (
                      <tr key={z.zone}>
                        <td className="mono">{z.zone}</td>
                        <td className="num">{fmtNum(z.n, 0)}</td>
                        <td className="num">{minutes(z.mae)}</td>
                        <td className={`num ${z.bias !== null && Math.abs(z.bias) > 300 ? 'warn-text' : ''}`}>
                          {minutes(z.bias)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <Empty>No delivered orders to compare yet.</Empty>
            )}
            <p className="muted small">Bias is quoted minus actual: positive means ETAs were too long.</p>
          </Card>
        )}
        <Card title="Range coverage by segment" className="span">
          {segments.length > 0 ? (
            <div className="table-wrap">
              <table className="table compact" data-testid="accuracy-segments">
                <thead>
                  <tr>
                    <th>Model</th>
                    <th>Zone (H3)</th>
                    <th>Daypart</th>
                    <th className="num">Outcomes</th>
                    <th className="num">In range</th>
                    <th className="num">Range factor</th>
                  </tr>
                </thead>
                <tbody>
                  {segments.slice(0, 40).map((s) => (
                    <tr key={`${s.version} ${s.zone} ${s.daypart}`}>
                      <td>{s.version}</td>
                      <td className="mono">{s.zone}</td>
                      <td>{s.daypart}</td>
                      <td className="num">{fmtNum(s.outcomes, 0)}</td>
                      <td
                        className={`num ${s.coverage !== null && s.outcomes >= 100 && Math.abs(s.coverage - 0.8) > 0.08 ? 'warn-text' : ''}`}
                      >
                        {s.coverage === null ? '–' : fmtPct(s.coverage)}
                      </td>
                      <td className="num">
                        {s.staticFactor === null || s.multiplier === null
                          ? '–'
                          : `${fmtNum(s.staticFactor * s.multiplier, 2)}×`}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <Empty>No delivered order has been judged against its segment&apos;s range yet.</Empty>
          )}
          <p className="muted small">
            Each segment (the store&apos;s zone, the daypart) aims at 80% of deliveries inside the p10–p90
            range it was quoted; its range factor (the model&apos;s calibration times the online correction)
            moves with its own outcomes only.
          </p>
        </Card>
        <Card title="Kitchens by zone">
          {zoneAlarms.length > 0 ? (
            <ul className="plain" data-testid="zone-alarms">
              {zoneAlarms.map((a) => (
                <li key={a.zone}>
                  <Badge tone="bad">prep shift</Badge> {a.message}
                </li>
              ))}
            </ul>
          ) : (
            <Empty>No zone&apos;s prep times moved beyond what its own last week allows.</Empty>
          )}
          <p className="muted small">
            Each zone&apos;s mean prep time over its last 30 orders against its own week before yesterday; a
            zone is judged once it has a week of orders.
          </p>
        </Card>
        <Card title="Feature drift (PSI)">
          {psiRows.length > 0 ? (
            <ul className="bars" data-testid="psi">
              {psiRows.map(([f, v]) => {
                const tone = driftTone(v);
                const insufficient = v.status === 'insufficient';
                return (
                  <li key={f} data-feature={f} data-status={v.status ?? ''}>
                    <span className="bar-label mono">{f}</span>
                    {/* No figure to draw while samples are too few: the verdict takes the bar's place. */}
                    {!insufficient && (
                      <span className="bar-track">
                        <span
                          className={`bar-fill ${tone}`}
                          style={{ width: `${Math.min(100, ((v.psi ?? 0) / psiMax) * 100)}%` }}
                        />
                      </span>
                    )}
                    {insufficient ? (
                      <Badge tone="muted" wide>
                        insufficient samples ({fmtNum(v.samples ?? null, 0)} of{' '}
                        {fmtNum(v.minSamples ?? null, 0)})
                      </Badge>
                    ) : (
                      <Badge tone={tone === 'muted' ? 'muted' : tone}>
                        {v.psi === null ? '–' : v.psi.toFixed(3)}
                        {v.status === 'drift' ? ' drift' : ''}
                      </Badge>
                    )}
                  </li>
                );
              })}
            </ul>
          ) : (
            <Empty>No drift figures yet: PSI needs live traffic and a model with a training profile.</Empty>
          )}
          <p className="muted small">
            Below 0.1 stable · 0.1–0.25 moderate · above 0.25 the population moved. Where the server judges
            drift, red means it found drift and grey that a feature has too few samples to judge yet.
          </p>
        </Card>
      </div>
    </div>
  );
}
