import { useEffect, useMemo, useState } from 'react';
import { get, streamEvents } from '../api';
import { Chart, type Series } from '../components/Chart';
import { Badge, Card, Empty, ErrorNote, Loading } from '../components/ui';
import { fmtNum, fmtPct, PALETTE } from '../format';
import { OrdersMap } from './OrdersMap';

/** One answer of GET /v1/orders/{id}/eta (and of its stream). */
export interface OrderEta {
  order_id: string;
  store_id: string;
  stage: string;
  eta_at: string;
  eta_seconds_remaining: number;
  range_at: [string, string];
  promised_at: string | null;
  p_late: number;
  updated_at: string;
  model_version: string;
  degraded: boolean;
  legs: Record<string, number>;
}

/** One item of GET /v1/admin/orders: the live ETA, where the order is (its rider or its store) and its door. */
export interface ActiveOrder extends OrderEta {
  position: { lat: number; lng: number; source: 'rider' | 'store' } | null;
  destination: { lat: number; lng: number } | null;
}

/** The list shows the riskiest; the map shows every active order (the API's most). */
const LISTED = 50;
const MAPPED = 500;

/** P(late) at 0.5 is the default late-risk threshold (orders.lateRiskThreshold); 0.2 is worth watching. */
function riskTone(p: number): 'good' | 'warn' | 'bad' {
  return p >= 0.5 ? 'bad' : p >= 0.2 ? 'warn' : 'good';
}

/** The clock time of an ISO instant as written (the store's offset), without the date. */
const clock = (iso: string | null): string => (iso ? iso.slice(11, 16) : '–');

function RiskList({
  orders,
  selected,
  onSelect,
}: {
  orders: ActiveOrder[];
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  if (orders.length === 0)
    return <Empty>No active orders yet: order events arrive through POST /v1/events.</Empty>;
  return (
    <div className="table-scroll">
      <table className="table" data-testid="orders-table">
        <thead>
          <tr>
            <th>order</th>
            <th>store</th>
            <th>stage</th>
            <th>ETA</th>
            <th>left</th>
            <th>promised</th>
            <th>P(late)</th>
          </tr>
        </thead>
        <tbody>
          {orders.slice(0, LISTED).map((o) => (
            <tr
              key={o.order_id}
              className={o.order_id === selected ? 'selected' : ''}
              onClick={() => onSelect(o.order_id)}
              style={{ cursor: 'pointer' }}
            >
              <td>
                <button type="button" className="link" onClick={() => onSelect(o.order_id)}>
                  {o.order_id}
                </button>
              </td>
              <td>{o.store_id}</td>
              <td>{o.stage}</td>
              <td>{clock(o.eta_at)}</td>
              <td>{fmtNum(o.eta_seconds_remaining / 60, 1)} min</td>
              <td>{clock(o.promised_at)}</td>
              <td>
                <Badge tone={riskTone(o.p_late)}>{fmtPct(o.p_late)}</Badge>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {orders.length > LISTED && (
        <p className="muted small">
          The {LISTED} likeliest to be late of {orders.length} active orders; the map shows them all.
        </p>
      )}
    </div>
  );
}

/** One order's updates from its stream: the ETA with its range band against the promise, and its stages. */
function Timeline({ orderId }: { orderId: string }) {
  const [updates, setUpdates] = useState<OrderEta[]>([]);
  const [status, setStatus] = useState<string>('connecting');
  useEffect(() => {
    setUpdates([]);
    const abort = new AbortController();
    void streamEvents(
      `/v1/orders/${encodeURIComponent(orderId)}/eta/stream`,
      (_event, data) => setUpdates((u) => [...u.slice(-499), JSON.parse(data) as OrderEta]),
      setStatus,
      abort.signal,
    );
    return () => abort.abort();
  }, [orderId]);
  const last = updates.at(-1);
  const chart = useMemo(() => {
    const secs = (iso: string | null): number | null => (iso ? Date.parse(iso) / 1000 : null);
    const x = updates.map((u) => Date.parse(u.updated_at) / 1000);
    // Minutes from the first update: the ETA, its range and the promise on one scale.
    const t0 = x[0] ?? 0;
    const min = (s: number | null): number | null => (s === null ? null : (s - t0) / 60);
    return [
      x,
      updates.map((u) => min(secs(u.range_at[0]))),
      updates.map((u) => min(secs(u.eta_at))),
      updates.map((u) => min(secs(u.range_at[1]))),
      updates.map((u) => min(secs(u.promised_at))),
    ];
  }, [updates]);
  const series: Series[] = [
    { label: 'range low', colour: PALETTE[1]!, dash: [4, 4] },
    { label: 'ETA', colour: PALETTE[0]! },
    { label: 'range high', colour: PALETTE[1]!, dash: [4, 4] },
    { label: 'promised', colour: PALETTE[3]!, dash: [2, 2] },
  ];
  const stages = useMemo(() => {
    const seen: Array<{ stage: string; at: string }> = [];
    for (const u of updates)
      if (seen.at(-1)?.stage !== u.stage) seen.push({ stage: u.stage, at: u.updated_at });
    return seen;
  }, [updates]);
  return (
    <Card title={`Order ${orderId}`} actions={<Badge tone="muted">{status}</Badge>}>
      {!last ? (
        <Loading what="the order's updates" />
      ) : (
        <>
          <p data-testid="order-now">
            <strong>{last.stage}</strong>: arrives {clock(last.eta_at)} (between {clock(last.range_at[0])} and{' '}
            {clock(last.range_at[1])}), promised {clock(last.promised_at)}, P(late){' '}
            <Badge tone={riskTone(last.p_late)}>{fmtPct(last.p_late)}</Badge>
            {last.degraded ? ' (from the quote: no leg model)' : ''}
          </p>
          <Chart
            data={chart}
            series={series}
            yLabel="minutes after the first update"
            testId="chart-order"
            height={200}
          />
          <ol className="timeline" data-testid="order-stages">
            {stages.map((s) => (
              <li key={`${s.stage}-${s.at}`}>
                {s.stage} <span className="muted">{clock(s.at)}</span>
              </li>
            ))}
          </ol>
        </>
      )}
    </Card>
  );
}

/** Active orders on the map and by risk, the likeliest to be late first, and one order's live ETA as it moves. */
export function Orders() {
  const [orders, setOrders] = useState<ActiveOrder[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const load = (): void =>
      void get<{ orders: ActiveOrder[] }>(`/v1/admin/orders?limit=${MAPPED}`).then(
        (b) => {
          if (!live) return;
          setOrders(b.orders);
          setError(null);
        },
        (e: unknown) => live && setError(e),
      );
    load();
    const t = setInterval(load, 5000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  const atRisk = orders?.filter((o) => o.p_late >= 0.5).length ?? 0;
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Orders</h1>
          <p className="muted">
            Every active order where it is (with its rider once picked up, else at its store), coloured by the
            probability of missing its promised time. Refreshed every 5 s; pick an order to follow it.
          </p>
        </div>
      </header>
      {error !== null && <ErrorNote error={error} />}
      <div className="grid two">
        <Card title="Active orders on the map, by P(late)" className="map-card">
          {orders === null ? (
            <Loading what="orders" />
          ) : (
            <OrdersMap orders={orders} selected={selected} onSelect={setSelected} />
          )}
        </Card>
        {selected ? (
          <Timeline orderId={selected} />
        ) : (
          <Card title="Order">
            <Empty>Pick an order on the map or in the list to follow its live ETA.</Empty>
          </Card>
        )}
      </div>
      <Card title={`Active orders by risk${orders ? ` (${atRisk} at risk)` : ''}`}>
        {orders === null ? (
          <Loading what="orders" />
        ) : (
          <RiskList orders={orders} selected={selected} onSelect={setSelected} />
        )}
      </Card>
    </div>
  );
}
