import { useCallback, useEffect, useState } from 'react';
import { get, post } from '../api';
import { Chart } from '../components/Chart';
import { Badge, Card, Confirm, Empty, ErrorNote, Loading } from '../components/ui';
import { PALETTE } from '../format';
import {
  errorByHour,
  formatMetric,
  METRIC_LABELS,
  numbers,
  section,
  toModelList,
  type ModelVersion,
} from '../models';

type Json = Record<string, unknown>;
type Action =
  { kind: 'promote'; version: string } | { kind: 'challenger'; version: string } | { kind: 'rollback' };

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

function aliasBadges(m: ModelVersion) {
  return m.aliases.map((a) => (
    <Badge key={a} tone={a === 'champion' ? 'good' : 'info'}>
      {a}
    </Badge>
  ));
}

export function Models() {
  const [models, setModels] = useState<ModelVersion[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [details, setDetails] = useState<Record<string, Json>>({});
  const [action, setAction] = useState<Action | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [accuracy, setAccuracy] = useState<Json | null>(null);

  const load = useCallback(async () => {
    try {
      // Online figures come from the prediction-vs-actual join; the page works without them.
      void get<Json>('/v1/admin/accuracy').then(setAccuracy, () => setAccuracy(null));
      const list = toModelList(await get('/v1/admin/models'));
      setModels(list);
      setError(null);
      const wanted = list.filter((m) => m.aliases.length > 0);
      const fetched = await Promise.all(
        wanted.map((m) =>
          get<Json>(`/v1/admin/models/${encodeURIComponent(m.version)}`).catch(() => ({ model: m.raw })),
        ),
      );
      setDetails(Object.fromEntries(wanted.map((m, i) => [m.version, fetched[i]!])));
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const run = async (): Promise<void> => {
    if (!action) return;
    setBusy(true);
    try {
      if (action.kind === 'promote') {
        await post(`/v1/admin/models/${encodeURIComponent(action.version)}/promote`);
        setNotice(`${action.version} is now the champion.`);
      } else if (action.kind === 'challenger') {
        await post(`/v1/admin/models/${encodeURIComponent(action.version)}/challenger`);
        setNotice(`${action.version} is now the challenger.`);
      } else {
        const r = await post<Json>('/v1/admin/models/rollback');
        const to =
          typeof r?.to === 'string'
            ? r.to
            : typeof r?.version === 'string'
              ? r.version
              : 'the previous version';
        setNotice(`Rolled back: ${to} is the champion again.`);
      }
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
      setAction(null);
      await load();
    }
  };

  const champion = models?.find((m) => m.aliases.includes('champion'));
  const challenger = models?.find((m) => m.aliases.includes('challenger'));

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Models</h1>
          <p className="muted">
            Registered versions, their hold-out metrics and aliases. Promotion and rollback move the champion
            alias; predictors follow within seconds.
          </p>
        </div>
        <button
          type="button"
          className="btn"
          disabled={!champion}
          onClick={() => setAction({ kind: 'rollback' })}
        >
          Roll back champion
        </button>
      </header>
      {notice && (
        <div className="note success" role="status">
          {notice}
        </div>
      )}
      <ErrorNote error={error} />
      <Card title="Versions">
        {!models ? (
          error ? (
            <Empty>The model registry could not be read.</Empty>
          ) : (
            <Loading what="models" />
          )
        ) : models.length === 0 ? (
          <Empty>No model is registered yet.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="models-table">
              <thead>
                <tr>
                  <th>Version</th>
                  <th>Aliases</th>
                  <th className="hide-sm">Created</th>
                  <th className="hide-sm">Source</th>
                  <th className="num">MAE</th>
                  <th className="num hide-sm">RMSE</th>
                  <th className="num">±5 min</th>
                  <th className="num">Coverage</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {models.map((m) => (
                  <tr key={m.version} data-version={m.version}>
                    <td className="mono strong">{m.version}</td>
                    <td className="aliases">{aliasBadges(m)}</td>
                    <td className="hide-sm nowrap">
                      {m.createdAt
                        ? new Date(m.createdAt).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })
                        : '–'}
                    </td>
                    <td className="muted hide-sm source" title={m.source}>
                      {m.source}
                    </td>
                    <td className="num">{formatMetric('mae_s', m.metrics.mae_s)}</td>
                    <td className="num hide-sm">{formatMetric('rmse_s', m.metrics.rmse_s)}</td>
                    <td className="num">{formatMetric('within_5min', m.metrics.within_5min)}</td>
                    <td className="num">{formatMetric('coverage_p10_p90', m.metrics.coverage_p10_p90)}</td>
                    <td className="num actions">
                      {!m.aliases.includes('champion') && !m.aliases.includes('challenger') && (
                        <button
                          type="button"
                          className="btn small"
                          onClick={() => setAction({ kind: 'challenger', version: m.version })}
                        >
                          Challenge
                        </button>
                      )}
                      {!m.aliases.includes('champion') && (
                        <button
                          type="button"
                          className="btn small"
                          onClick={() => setAction({ kind: 'promote', version: m.version })}
                        >
                          Promote
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      {champion && (
        <Comparison champion={champion} challenger={challenger} details={details} accuracy={accuracy} />
      )}
      {action && (
        <Confirm
          title={
            action.kind === 'promote'
              ? `Promote ${action.version}?`
              : action.kind === 'challenger'
                ? `Make ${action.version} the challenger?`
                : 'Roll back the champion?'
          }
          body={
            action.kind === 'challenger' ? (
              <p>
                <strong>{action.version}</strong> becomes the challenger: it scores shadow traffic beside the
                champion, and serves the canary share if one is configured.
              </p>
            ) : action.kind === 'promote' ? (
              <p>
                <strong>{action.version}</strong> becomes the champion and serves every ETA
                {champion ? (
                  <>
                    {' '}
                    in place of <strong>{champion.version}</strong>
                  </>
                ) : null}
                .
              </p>
            ) : (
              <p>
                The champion alias moves from <strong>{champion?.version}</strong> back to the version it
                replaced.
              </p>
            )
          }
          confirmLabel={
            action.kind === 'promote'
              ? 'Promote'
              : action.kind === 'challenger'
                ? 'Make challenger'
                : 'Roll back'
          }
          tone={action.kind === 'rollback' ? 'danger' : 'primary'}
          busy={busy}
          onConfirm={() => void run()}
          onCancel={() => setAction(null)}
        />
      )}
    </div>
  );
}

function Comparison({
  champion,
  challenger,
  details,
  accuracy,
}: {
  champion: ModelVersion;
  challenger?: ModelVersion;
  details: Record<string, Json>;
  accuracy: Json | null;
}) {
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
  const shadow = section(xd, 'shadow', 'shadow_results') ?? section(cd, 'shadow', 'shadow_results');
  // Per version when the registry has it; otherwise the online join's error by hour of day, all versions together.
  const perVersion = errorByHour(cd).length > 0 || errorByHour(xd).length > 0;
  const ch = perVersion ? errorByHour(cd) : onlineByHourOfDay(accuracy);
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
            xLabel={perVersion ? 'hour of day' : 'hour of day (your time)'}
            yLabel="MAE, min"
            height={200}
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
                  <span className="muted">{new Date(h.at).toLocaleString()}</span>
                  <span>
                    {h.alias}: {h.previous ?? '–'} → <strong>{h.version ?? '–'}</strong>
                  </span>
                  <span className="muted small">{h.reason}</span>
                </li>
              ))}
            </ul>
          </>
        )}
        {shadow && (
          <>
            <h3 className="sub">Shadow results</h3>
            <dl className="kv">
              {Object.entries(shadow).map(([k, v]) => (
                <div key={k}>
                  <dt>{METRIC_LABELS[k] ?? k.replace(/_/g, ' ')}</dt>
                  <dd>{typeof v === 'number' ? formatMetric(k, v) : String(v)}</dd>
                </div>
              ))}
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

/** The join's hourly buckets (UTC hours) folded onto the hour of day in the browser's zone, weighted by orders. */
function onlineByHourOfDay(accuracy: Json | null): Array<[number, number]> {
  const rows = Array.isArray(accuracy?.by_hour) ? (accuracy.by_hour as Json[]) : [];
  const acc = new Map<number, { sum: number; n: number }>();
  for (const r of rows) {
    const t = Date.parse(`${String(r.hour)}:00:00Z`);
    const n = typeof r.deliveries === 'number' ? r.deliveries : 0;
    if (Number.isNaN(t) || typeof r.mae_seconds !== 'number' || n === 0) continue;
    const h = new Date(t).getHours();
    const a = acc.get(h) ?? { sum: 0, n: 0 };
    a.sum += r.mae_seconds * n;
    a.n += n;
    acc.set(h, a);
  }
  return [...acc].map(([h, a]) => [h, a.sum / a.n / 60] as [number, number]).sort((x, y) => x[0] - y[0]);
}
