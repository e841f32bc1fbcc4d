import { useEffect, useMemo, useState } from 'react';
import { allStores, type StoreJson } from '../api';
import { Empty } from '../components/ui';
import { fmtPct, lateColour } from '../format';
import { boundsOf, gridCells, Projection, type LatLng } from '../geo';
import type { ActiveOrder } from './Orders';

/** The drawing's own units: the SVG scales to its card's width. */
const WIDTH = 800;
const HEIGHT = 460;
const RES = 8;

/** Legend stops: on time, worth watching (the list's amber badge), the late-risk alert, surely late. */
const STOPS: Array<[number, string]> = [
  [0, '0%'],
  [0.2, '20%'],
  [0.5, '50% (alert)'],
  [1, '100%'],
];

/** The clock time of an ISO instant as written (the store's offset), without the date. */
const clock = (iso: string | null): string => (iso ? iso.slice(11, 16) : '–');

/** What a marker says on hover (and what screen readers read). */
function describe(o: ActiveOrder): string {
  const where = o.position?.source === 'rider' ? 'with its rider' : 'at its store';
  return `${o.order_id} · ${o.stage} · P(late) ${fmtPct(o.p_late)} · arrives ${clock(o.eta_at)}, promised ${clock(o.promised_at)} · ${where}`;
}

/**
 * Active orders on the map, each a dot where the order is (its rider once picked up, else its store) coloured by
 * P(late). The riskiest are drawn last, on top; the selected order shows its way to the door. Drawn as SVG over the
 * stores and the H3 cells of the Map page, with the same projection: each dot is an element to click and to read.
 */
export function OrdersMap({
  orders,
  selected,
  onSelect,
}: {
  orders: ActiveOrder[];
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  const [stores, setStores] = useState<StoreJson[]>([]);
  useEffect(() => {
    const abort = new AbortController();
    // The stores are the city's outline; without them the map still shows the orders.
    allStores(abort.signal).then(setStores, () => undefined);
    return () => abort.abort();
  }, []);

  const placed = orders.filter((o) => o.position !== null);
  // The view holds the stores and every order's position and door; it changes only when an order leaves it.
  const points = [
    ...stores.map((s) => s.location),
    ...placed.map((o) => o.position!),
    ...orders.flatMap((o) => (o.destination ? [o.destination] : [])),
  ];
  const extent = points.length ? boundsOf(points) : null;
  const key = extent ? [extent.minLat, extent.maxLat, extent.minLng, extent.maxLng].join() : '';
  const box = useMemo(() => {
    if (!key) return null;
    const [minLat, maxLat, minLng, maxLng] = key.split(',').map(Number) as [number, number, number, number];
    return { minLat, maxLat, minLng, maxLng };
  }, [key]);
  const projection = useMemo(() => (box ? new Projection(box, WIDTH, HEIGHT, 24) : null), [box]);
  const grid = useMemo(() => (box ? [...gridCells(box, RES).values()] : []), [box]);

  if (!projection) return <Empty>No active orders to place on the map.</Empty>;
  const xy = (p: LatLng): [number, number] => projection.toXY(p);
  const ring = (cell: Array<[number, number]>): string =>
    cell.map(([lat, lng]) => xy({ lat, lng }).join(',')).join(' ');
  // Least risky first, so the red ones sit on top; the selected order above all.
  const drawn = [...placed].sort(
    (a, b) => Number(a.order_id === selected) - Number(b.order_id === selected) || a.p_late - b.p_late,
  );
  const chosen = placed.find((o) => o.order_id === selected);
  const [bx, by] = [16, HEIGHT - 16];
  const origin = projection.toLatLng(bx, by);
  const kmX =
    xy({ lat: origin.lat, lng: origin.lng + 1 / (111.32 * Math.cos((origin.lat * Math.PI) / 180)) })[0] - bx;
  const unplaced = orders.length - placed.length;

  return (
    <>
      <svg
        className="orders-map"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        data-testid="orders-map"
        role="group"
        aria-label={`${placed.length} active orders on the map, coloured by P(late)`}
      >
        <rect width={WIDTH} height={HEIGHT} fill="#f8fafc" />
        {grid.map((cell, i) => (
          <polygon key={i} points={ring(cell)} fill="none" stroke="#e2e8f0" />
        ))}
        {stores.map((s) => {
          const [x, y] = xy(s.location);
          return <circle key={s.store_id} cx={x} cy={y} r={2.2} fill="#94a3b8" />;
        })}
        {chosen?.destination && (
          <g data-testid="order-route">
            <line
              x1={xy(chosen.position!)[0]}
              y1={xy(chosen.position!)[1]}
              x2={xy(chosen.destination)[0]}
              y2={xy(chosen.destination)[1]}
              stroke="#2563eb"
              strokeWidth={2}
              strokeDasharray="6 4"
            />
            <circle
              cx={xy(chosen.destination)[0]}
              cy={xy(chosen.destination)[1]}
              r={7}
              fill="#2563eb"
              stroke="#fff"
              strokeWidth={2.5}
            >
              <title>{`${chosen.order_id}: the door`}</title>
            </circle>
          </g>
        )}
        {drawn.map((o) => {
          const [x, y] = xy(o.position!);
          const isSelected = o.order_id === selected;
          return (
            <circle
              key={o.order_id}
              className="marker"
              data-testid="order-marker"
              data-order-id={o.order_id}
              data-p-late={o.p_late}
              data-source={o.position!.source}
              data-selected={isSelected || undefined}
              cx={x}
              cy={y}
              r={isSelected ? 11 : 8.5}
              fill={lateColour(o.p_late)}
              stroke={isSelected ? '#0f172a' : '#fff'}
              strokeWidth={isSelected ? 3 : 1.5}
              onClick={() => onSelect(o.order_id)}
            >
              <title>{describe(o)}</title>
            </circle>
          );
        })}
        <line x1={bx} y1={by} x2={bx + kmX} y2={by} stroke="#475569" strokeWidth={2} />
        <text x={bx} y={by - 6} fontSize={11} fill="#475569">
          1 km
        </text>
      </svg>
      <div className="legend" data-testid="orders-map-legend">
        <span>P(late):</span>
        {STOPS.map(([p, label]) => (
          <span key={p}>
            <i className="swatch round" style={{ background: lateColour(p) }} />
            {label}
          </span>
        ))}
        <span className="muted">
          {placed.length} active {placed.length === 1 ? 'order' : 'orders'} at their rider or store
          {unplaced > 0 ? `; ${unplaced} not placed yet` : ''}
        </span>
      </div>
    </>
  );
}
