import { useCallback, useEffect, useState } from 'react';
import { ApiError, get, post } from '../api';
import { Badge, Card, Confirm, Empty, ErrorNote, Loading } from '../components/ui';
import { browserZone, globalTime, mainZone } from '../format';
import { formatMetric, toModelList, type ModelVersion } from '../models';
import type { LivePoint } from './Live';
import { Comparison } from './ModelComparison';

type Json = Record<string, unknown>;
type Action =
  | { kind: 'promote'; version: string }
  | { kind: 'force'; version: string; refusal: string }
  | { kind: 'challenger'; version: string }
  | { kind: 'rollback' };

/** One line of `GET /v1/admin/audit`: promotions, rollbacks and forced actions, newest first. */
interface AuditEntry {
  at: string;
  action: string;
  version: string | null;
  previous: string | null;
  actor: string | null;
  forced: boolean;
  reason: string | null;
  summary: string | null;
}
/** The audit log, or why there is none to show: the endpoint may not exist on an older gateway. */
type Audit = { entries: AuditEntry[] } | { unavailable: true } | { error: unknown };

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
  // A failed action's error lives apart from the list's: reloading the list after the action must not clear it.
  const [actionError, setActionError] = useState<unknown>(null);
  const [refused, setRefused] = useState<{ version: string; message: string } | null>(null);
  const [reason, setReason] = useState('');
  const [audit, setAudit] = useState<Audit | null>(null);
  const [zone, setZone] = useState<string | null>(null);
  const [details, setDetails] = useState<Record<string, Json>>({});
  const [action, setAction] = useState<Action | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [accuracy, setAccuracy] = useState<Json | null>(null);
  const [rollout, setRollout] = useState<LivePoint | undefined>(undefined);

  const load = useCallback(async () => {
    try {
      // Online figures come from the prediction-vs-actual join; the page works without them.
      void get<{ entries: AuditEntry[] }>('/v1/admin/audit?limit=20').then(
        (r) => setAudit({ entries: Array.isArray(r?.entries) ? r.entries : [] }),
        (e: unknown) =>
          setAudit(e instanceof ApiError && e.status === 404 ? { unavailable: true } : { error: e }),
      );
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
  useEffect(() => {
    // The stores' clock for the hour-of-day chart; the browser's zone, named, if the catalog cannot be read.
    void get<{ stores: Array<{ timezone: string }> }>('/v1/stores?limit=1000').then(
      (r) => setZone(r.stores.length ? mainZone(r.stores) : browserZone()),
      () => setZone(browserZone()),
    );
  }, []);

  const run = async (): Promise<void> => {
    if (!action) return;
    setBusy(true);
    setNotice(null);
    setActionError(null);
    setRefused(null);
    try {
      if (action.kind === 'promote' || action.kind === 'force') {
        const path = `/v1/admin/models/${encodeURIComponent(action.version)}/promote`;
        await post(path, action.kind === 'force' ? { force: true, reason: reason.trim() } : {});
        setNotice(
          action.kind === 'force'
            ? `${action.version} is now the champion (forced: ${reason.trim()}).`
            : `${action.version} is now the champion.`,
        );
        setReason('');
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
    } catch (e) {
      setActionError(e);
      // A guard-rail refusal can be overridden, with a reason that lands in the audit log.
      if (action.kind === 'promote' && e instanceof ApiError && e.status === 409)
        setRefused({ version: action.version, message: e.message });
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
      <ErrorNote error={actionError} onDismiss={() => (setActionError(null), setRefused(null))}>
        {refused && (
          <button
            type="button"
            className="btn small danger"
            onClick={() => setAction({ kind: 'force', version: refused.version, refusal: refused.message })}
          >
            Promote anyway
          </button>
        )}
      </ErrorNote>
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
                  <th className="hide-sm">Created ({browserZone()})</th>
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
                    <td className="hide-sm nowrap">{m.createdAt ? globalTime(m.createdAt, false) : '–'}</td>
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
          zone={zone}
        />
      )}
      <AuditLog audit={audit} />
      {action && (
        <Confirm
          title={
            action.kind === 'promote'
              ? `Promote ${action.version}?`
              : action.kind === 'force'
                ? `Promote ${action.version} anyway?`
                : action.kind === 'challenger'
                  ? `Make ${action.version} the challenger?`
                  : 'Roll back the champion?'
          }
          body={
            action.kind === 'force' ? (
              <>
                <p>The server refused: {action.refusal}</p>
                <label className="field">
                  <span>Reason (kept in the audit log)</span>
                  <textarea
                    name="force-reason"
                    rows={3}
                    value={reason}
                    onChange={(e) => setReason(e.target.value)}
                    placeholder="why this version must serve despite the guard rail"
                    autoFocus
                  />
                </label>
              </>
            ) : action.kind === 'challenger' ? (
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
              : action.kind === 'force'
                ? 'Promote anyway'
                : action.kind === 'challenger'
                  ? 'Make challenger'
                  : 'Roll back'
          }
          tone={action.kind === 'rollback' || action.kind === 'force' ? 'danger' : 'primary'}
          busy={busy}
          disabled={action.kind === 'force' && reason.trim() === ''}
          onConfirm={() => void run()}
          onCancel={() => setAction(null)}
        />
      )}
    </div>
  );
}

/** Who moved which alias, when and why, newest first; forced promotions stand out. */
function AuditLog({ audit }: { audit: Audit | null }) {
  return (
    <Card title="Audit log">
      {!audit ? (
        <Loading what="the audit log" />
      ) : 'unavailable' in audit ? (
        <Empty>audit log unavailable: this gateway has no audit endpoint.</Empty>
      ) : 'error' in audit ? (
        <ErrorNote error={audit.error} />
      ) : audit.entries.length === 0 ? (
        <Empty>No promotion or rollback recorded yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table compact" data-testid="audit-log">
            <thead>
              <tr>
                <th>Time ({browserZone()})</th>
                <th>Action</th>
                <th>Version</th>
                <th className="hide-sm">Previous</th>
                <th className="hide-sm">By</th>
                <th>Reason / summary</th>
              </tr>
            </thead>
            <tbody>
              {audit.entries.map((e, i) => (
                <tr key={`${e.at}-${i}`}>
                  <td className="nowrap">{globalTime(e.at, false)}</td>
                  <td>
                    {e.action} {e.forced && <Badge tone="bad">forced</Badge>}
                  </td>
                  <td className="mono">{e.version ?? '–'}</td>
                  <td className="mono hide-sm">{e.previous ?? '–'}</td>
                  <td className="hide-sm">{e.actor ?? '–'}</td>
                  <td className="audit-reason">
                    {e.reason && <div>{e.reason}</div>}
                    {e.summary && <div className="muted small">{e.summary}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
