import { useCallback, useEffect, useState } from 'react';
import { get, post } from '../api';
import { Badge, Card, Confirm, Empty, ErrorNote, Loading } from '../components/ui';
import { formatMetric, toModelList, type ModelVersion } from '../models';
import type { LivePoint } from './Live';
import { Comparison } from './ModelComparison';

type Json = Record<string, unknown>;
type Action =
  { kind: 'promote'; version: string } | { kind: 'challenger'; version: string } | { kind: 'rollback' };

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
  const [rollout, setRollout] = useState<LivePoint | undefined>(undefined);

  const load = useCallback(async () => {
    try {
      // Online figures come from the prediction-vs-actual join; the page works without them.
      void get<Json>('/v1/admin/accuracy').then(setAccuracy, () => setAccuracy(null));
      void get<{ points: LivePoint[] }>('/v1/admin/live').then(
        (r) => setRollout(r.points[r.points.length - 1]),
        () => setRollout(undefined),
      );
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
                    <td className="mono strong" title={m.source}>
                      {m.version}
                    </td>
                    <td className="aliases">{aliasBadges(m)}</td>
                    <td className="hide-sm nowrap">
                      {m.createdAt
                        ? new Date(m.createdAt).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })
                        : '–'}
                    </td>
                    <td className="num">{formatMetric('mae_s', m.metrics.mae_s)}</td>
                    <td className="num hide-sm">{formatMetric('rmse_s', m.metrics.rmse_s)}</td>
                    <td className="num">{formatMetric('within_5min', m.metrics.within_5min)}</td>
                    <td className="num">{formatMetric('coverage_p10_p90', m.metrics.coverage_p10_p90)}</td>
                    <td className="num">
                      <div className="actions">
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
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      {champion && (
        <Comparison
          champion={champion}
          challenger={challenger}
          details={details}
          accuracy={accuracy}
          rollout={rollout}
        />
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
