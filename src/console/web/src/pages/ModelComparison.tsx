import { Chart } from '../components/Chart';
import { Card, Empty } from '../components/ui';
import { globalTime, PALETTE } from '../format';
import { errorByHour, formatMetric, METRIC_LABELS, numbers, section, type ModelVersion } from '../models';
import type { LivePoint } from './Live';

type Json = Record<string, unknown>;

interface AliasMove {
  alias: string;
  version: string | null;
  previous: string | null;
  at: string;
  reason: string;
}

const COMPARED = ['mae_s', 'rmse_s', 'within_5min', 'within_10min', 'coverage_p10_p90', 'width_p10_p90_s'];
/** For these a smaller number is better; for the shares, a larger one. */
const LOWER_IS_BETTER = new Set(['mae_s', 'rmse_s', 'width_p10_p90_s', 'online_mae_s']);

/** Champion against challenger: hold-out and online figures side by side, error by hour, recent alias moves. */
export function Comparison({
  champion,
  challenger,
  details,
  accuracy,
  rollout,
  zone,
}: {
  champion: ModelVersion;
  challenger?: ModelVersion;
  details: Record<string, Json>;
  accuracy: Json | null;
  /** The live stream's latest shadow and canary figures. */
  rollout?: Pick<LivePoint, 'shadow' | 'served_by'>;
  /** The stores' zone: the online error is folded onto the hour of day on their clock. */
  zone?: string | null;
}) {
  const clockZone = zone ?? 'UTC';
  const cd = details[champion.version] ?? champion.raw;
  const xd = challenger ? (details[challenger.version] ?? challenger.raw) : undefined;
  const cm = { ...champion.metrics, ...numbers(section(section(cd, 'model'), 'metrics')) };
  const xm = challenger
    ? { ...challenger.metrics, ...numbers(section(section(xd, 'model'), 'metrics')) }
    : {};
  const history = (Array.isArray(cd?.history) ? (cd.history as AliasMove[]) : []).slice(0, 6);
  const co = { ...onlineOf(accuracy, champion.version), ...numbers(section(cd, 'online', 'online_metrics')) };
  const xo = challenger
    ? { ...onlineOf(accuracy, challenger.version), ...numbers(section(xd, 'online', 'online_metrics')) }
    : {};
  const shadow = challenger ? rollout?.shadow?.[challenger.version] : undefined;
  const canary = rollout?.served_by?.challenger;
  // Per version when the registry has it; otherwise the online join's error by hour of day, all versions together.
  const perVersion = errorByHour(cd).length > 0 || errorByHour(xd).length > 0;
  const ch = perVersion ? errorByHour(cd) : onlineByHourOfDay(accuracy, clockZone);
  const xh = perVersion ? errorByHour(xd) : [];
  const hours = [...new Set([...ch, ...xh].map(([h]) => h))].sort((a, b) => a - b);
  const rows = COMPARED.filter((k) => cm[k] !== undefined || xm[k] !== undefined);
  const onlineRows = [...new Set([...Object.keys(co), ...Object.keys(xo)])];

  const better = (k: string, a?: number, b?: number): 'a' | 'b' | null => {
    if (a === undefined || b === undefined || a === b) return null;
    const aWins = LOWER_IS_BETTER.has(k)
      ? a < b
      : k.startsWith('coverage')
        ? Math.abs(a - 0.8) < Math.abs(b - 0.8)
        : a > b;
    return aWins ? 'a' : 'b';
  };

  return (
    <div className="grid two">
      <Card
        title={
          challenger
            ? `Champion ${champion.version} vs challenger ${challenger.version}`
            : `Champion ${champion.version}`
        }
      >
        {!challenger && (
          <p className="muted small">
            No challenger is set. Train a new version and set it as the challenger to compare.
          </p>
        )}
        <table className="table compact" data-testid="comparison">
          <thead>
            <tr>
              <th>Hold-out</th>
              <th className="num">{champion.version}</th>
              {challenger && <th className="num">{challenger.version}</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((k) => {
              const w = better(k, cm[k], xm[k]);
              return (
                <tr key={k}>
                  <td>{METRIC_LABELS[k] ?? k}</td>
                  <td className={`num ${w === 'a' ? 'win' : ''}`}>{formatMetric(k, cm[k])}</td>
                  {challenger && (
                    <td className={`num ${w === 'b' ? 'win' : ''}`}>{formatMetric(k, xm[k])}</td>
                  )}
                </tr>
              );
            })}
            {onlineRows.length > 0 && (
              <tr className="group">
                <td colSpan={challenger ? 3 : 2}>Online (live orders)</td>
              </tr>
            )}
            {onlineRows.map((k) => (
              <tr key={`o-${k}`}>
                <td>{METRIC_LABELS[k] ?? k}</td>
                <td className="num">{formatMetric(k, co[k])}</td>
                {challenger && <td className="num">{formatMetric(k, xo[k])}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
      <Card title="Error by hour of day">
        {hours.length > 0 ? (
          <Chart
            time={false}
            data={[
              hours,
              hours.map((h) => ch.find(([x]) => x === h)?.[1] ?? null),
              ...(perVersion && challenger ? [hours.map((h) => xh.find(([x]) => x === h)?.[1] ?? null)] : []),
            ]}
            series={[
              { label: perVersion ? champion.version : 'online, all versions', colour: PALETTE[0]! },
              ...(perVersion && challenger ? [{ label: challenger.version, colour: PALETTE[2]! }] : []),
            ]}
            xDomain={[0, 23]}
            xLabel={perVersion ? 'hour of day (store local)' : `hour of day (${clockZone})`}
            yLabel="MAE, min"
            height={200}
            testId="chart-hours"
          />
        ) : (
          <Empty>No delivered orders joined with their quotes yet.</Empty>
        )}
        {history.length > 0 && (
          <>
            <h3 className="sub">Recent alias moves</h3>
            <ul className="moves">
              {history.map((h) => (
                <li key={`${h.at}-${h.alias}`}>
                  <span className="muted">{globalTime(h.at)}</span>
                  <span>
                    {h.alias}: {h.previous ?? '–'} → <strong>{h.version ?? '–'}</strong>
                  </span>
                  <span className="muted small">{h.reason}</span>
                </li>
              ))}
            </ul>
          </>
        )}
        {shadow && challenger && (
          <>
            <h3 className="sub">Shadow results: {challenger.version} beside the champion on live requests</h3>
            <dl className="kv" data-testid="shadow">
              <div>
                <dt>requests scored</dt>
                <dd>{shadow.scored.toLocaleString('en')}</dd>
              </div>
              <div>
                <dt>now</dt>
                <dd>{shadow.per_s.toLocaleString('en')} / s</dd>
              </div>
              <div>
                <dt>median |Δ p50|</dt>
                <dd>{shadow.diff_p50_s === null ? '–' : `${(shadow.diff_p50_s / 60).toFixed(1)} min`}</dd>
              </div>
              <div>
                <dt>p90 |Δ p50|</dt>
                <dd>{shadow.diff_p90_s === null ? '–' : `${(shadow.diff_p90_s / 60).toFixed(1)} min`}</dd>
              </div>
              {canary !== undefined && canary > 0 && (
                <div>
                  <dt>canary share served</dt>
                  <dd>{(canary * 100).toFixed(1)}%</dd>
                </div>
              )}
            </dl>
          </>
        )}
      </Card>
    </div>
  );
}

/** Online MAE, bias and coverage of one version from the accuracy join, in the registry's metric names. */
function onlineOf(accuracy: Json | null, version: string): Record<string, number> {
  const rows = Array.isArray(accuracy?.by_model_version) ? (accuracy.by_model_version as Json[]) : [];
  const row = rows.find((r) => r.model_version === version);
  const out: Record<string, number> = {};
  if (!row) return out;
  if (typeof row.mae_seconds === 'number') out.online_mae_s = row.mae_seconds;
  if (typeof row.bias_seconds === 'number') out.bias_s = row.bias_seconds;
  if (typeof row.coverage_ratio === 'number') out.coverage_online = row.coverage_ratio;
  if (typeof row.deliveries === 'number') out.deliveries = row.deliveries;
  return out;
}

/** The join's hourly buckets (UTC hours) folded onto the hour of day in the stores' zone, weighted by orders. */
function onlineByHourOfDay(accuracy: Json | null, zone: string): Array<[number, number]> {
  const hourIn = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: 'numeric', hourCycle: 'h23' });
  const rows = Array.isArray(accuracy?.by_hour) ? (accuracy.by_hour as Json[]) : [];
  const acc = new Map<number, { sum: number; n: number }>();
  for (const r of rows) {
    const t = Date.parse(`${String(r.hour)}:00:00Z`);
    const n = typeof r.deliveries === 'number' ? r.deliveries : 0;
    if (Number.isNaN(t) || typeof r.mae_seconds !== 'number' || n === 0) continue;
    const h = Number(hourIn.format(new Date(t))) % 24;
    const a = acc.get(h) ?? { sum: 0, n: 0 };
    a.sum += r.mae_seconds * n;
    a.n += n;
    acc.set(h, a);
  }
  return [...acc].map(([h, a]) => [h, a.sum / a.n / 60] as [number, number]).sort((x, y) => x[0] - y[0]);
}
