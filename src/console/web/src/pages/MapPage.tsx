import { useEffect, useMemo, useRef, useState, type MouseEvent } from 'react';
import { allStores, get, post, type BatchAnswer, type StoreJson } from '../api';
import { Card, Empty, ErrorNote, Loading } from '../components/ui';
import {
  etaColour,
  fmtMin,
  fmtPct,
  localInputValue,
  mainZone,
  zoneInputIso,
  zoneInputValue,
} from '../format';
import { boundsOf, gridCells, haversineKm, latLngToCell, Projection, type LatLng } from '../geo';
import { drawMap, isEta, type Answer } from './map-draw';

interface Traffic {
  total: number;
  stores: Array<{ store_id: string; requests: number; share: number }>;
}

const RES = 8;
const MAX_BATCH = 100;

export function MapPage() {
  const [stores, setStores] = useState<StoreJson[] | null>(null);
  const [traffic, setTraffic] = useState<Traffic | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [destination, setDestination] = useState<LatLng | null>(null);
  const [answers, setAnswers] = useState<Answer[] | null>(null);
  const [asking, setAsking] = useState(false);
  const [orderedAt, setOrderedAt] = useState(() => localInputValue(new Date()));
  const [hover, setHover] = useState<StoreJson | null>(null);
  const [size, setSize] = useState({ width: 800, height: 560 });
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    allStores(abort.signal).then(
      (list) => {
        setStores(list);
        // The order time is read on the stores' clock, so it starts at their now.
        if (list.length) setOrderedAt(zoneInputValue(new Date(), mainZone(list)));
      },
      (e: unknown) => !abort.signal.aborted && setError(e),
    );
    const loadTraffic = (): void =>
      void get<Traffic>('/v1/admin/stores/traffic', abort.signal).then(setTraffic, () => undefined);
    loadTraffic();
    const t = setInterval(loadTraffic, 10_000);
    return () => {
      abort.abort();
      clearInterval(t);
    };
  }, []);

  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const ro = new ResizeObserver(() => {
      const width = el.clientWidth;
      setSize({ width, height: Math.round(Math.min(640, Math.max(340, width * 0.75))) });
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [stores !== null]);

  const zone = useMemo(() => (stores?.length ? mainZone(stores) : 'UTC'), [stores]);
  const share = useMemo(() => new Map((traffic?.stores ?? []).map((s) => [s.store_id, s.share])), [traffic]);
  const maxShare = Math.max(1e-9, ...share.values());
  const box = useMemo(
    () => (stores && stores.length ? boundsOf(stores.map((s) => s.location)) : null),
    [stores],
  );
  const grid = useMemo(() => (box ? gridCells(box, RES) : new Map<string, Array<[number, number]>>()), [box]);
  const heat = useMemo(() => {
    const h = new Map<string, number>();
    for (const s of stores ?? []) {
      const c = latLngToCell(s.location.lat, s.location.lng, RES);
      h.set(c, (h.get(c) ?? 0) + (share.get(s.store_id) ?? 0));
    }
    return h;
  }, [stores, share]);
  const maxHeat = Math.max(1e-9, ...heat.values());
  const byStore = useMemo(() => new Map((answers ?? []).map((a) => [a.store_id, a])), [answers]);
  const projection = useMemo(
    () => (box ? new Projection(box, size.width, size.height, 28) : null),
    [box, size],
  );

  useEffect(() => {
    const c = canvas.current;
    if (!c || !projection || !stores) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = size.width * dpr;
    c.height = size.height * dpr;
    const g = c.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawMap(g, {
      projection,
      stores,
      grid,
      heat,
      maxHeat,
      share,
      maxShare,
      byStore,
      destination,
      hover,
      size,
    });
  }, [projection, stores, grid, heat, maxHeat, share, maxShare, byStore, destination, hover, size]);

  const nearest = (e: MouseEvent<HTMLCanvasElement>): StoreJson | null => {
    if (!projection || !stores) return null;
    const rect = e.currentTarget.getBoundingClientRect();
    const mx = e.clientX - rect.left;
    const my = e.clientY - rect.top;
    let best: StoreJson | null = null;
    let bestD = 8 * 8;
    for (const s of stores) {
      const [x, y] = projection.toXY(s.location);
      const d = (x - mx) ** 2 + (y - my) ** 2;
      if (d < bestD) {
        bestD = d;
        best = s;
      }
    }
    return best;
  };

  const ask = async (e: MouseEvent<HTMLCanvasElement>): Promise<void> => {
    if (!projection || !stores) return;
    const rect = e.currentTarget.getBoundingClientRect();
    const dest = projection.toLatLng(e.clientX - rect.left, e.clientY - rect.top);
    setDestination(dest);
    const nearby = stores
      .map((s) => ({ s, d: haversineKm(dest, s.location) }))
      .filter(({ s, d }) => d <= s.delivery_radius_km)
      .sort((a, b) => a.d - b.d)
      .slice(0, MAX_BATCH);
    if (nearby.length === 0) {
      setAnswers([]);
      return;
    }
    setAsking(true);
    try {
      const body: Record<string, unknown> = {
        destination: { lat: dest.lat, lng: dest.lng },
        store_ids: nearby.map(({ s }) => s.store_id),
      };
      const at = zoneInputIso(orderedAt, zone);
      if (at) body.ordered_at = at;
      const r = await post<BatchAnswer>('/v1/eta/batch', body);
      setAnswers(r.results);
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      setAsking(false);
    }
  };

  const names = useMemo(() => new Map((stores ?? []).map((s) => [s.store_id, s])), [stores]);
  const served = (answers ?? []).filter(isEta).sort((a, b) => a.eta_seconds - b.eta_seconds);
  const refused = (answers ?? []).filter((a) => !isEta(a));
  const hot = (traffic?.stores ?? []).slice(0, 5);

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Map</h1>
          <p className="muted">
            Stores over H3 cells (resolution {RES}), shaded by their share of ETA requests in the last 15
            minutes. Click anywhere to order there and see every nearby store’s ETA.
          </p>
        </div>
        <label className="field inline">
          <span>Order time ({zone})</span>
          <input
            type="datetime-local"
            name="ordered-at"
            value={orderedAt}
            onChange={(e) => setOrderedAt(e.target.value)}
          />
        </label>
      </header>
      <ErrorNote error={error} />
      <div className="grid map-layout">
        <Card className="map-card">
          <div ref={wrap} className="map-wrap">
            {!stores ? (
              <Loading what="stores" />
            ) : stores.length === 0 ? (
              <Empty>No stores in the catalog.</Empty>
            ) : (
              <canvas
                ref={canvas}
                data-testid="map-canvas"
                style={{ width: size.width, height: size.height }}
                onClick={(e) => void ask(e)}
                onMouseMove={(e) => setHover(nearest(e))}
                onMouseLeave={() => setHover(null)}
              />
            )}
          </div>
          <div className="legend">
            <span>
              <i className="swatch" style={{ background: etaColour(15 * 60) }} /> ≤ 15 min
            </span>
            <span>
              <i className="swatch" style={{ background: etaColour(37 * 60) }} /> ~ 37 min
            </span>
            <span>
              <i className="swatch" style={{ background: etaColour(60 * 60) }} /> ≥ 60 min
            </span>
            <span>
              <i className="swatch" style={{ background: 'rgba(234, 88, 12, 0.5)' }} /> request share
            </span>
            <span className="muted">{stores ? `${stores.length} stores` : ''}</span>
          </div>
        </Card>
        <Card
          title={
            destination
              ? `ETAs to ${destination.lat.toFixed(4)}, ${destination.lng.toFixed(4)}`
              : 'Hot stores'
          }
        >
          {asking && <Loading what="ETAs" />}
          {!destination ? (
            hot.length ? (
              <ol className="hot">
                {hot.map((h) => (
                  <li key={h.store_id}>
                    <span>{names.get(h.store_id)?.name ?? h.store_id}</span>
                    <span className="muted">{fmtPct(h.share)}</span>
                  </li>
                ))}
              </ol>
            ) : (
              <Empty>No ETA requests counted yet.</Empty>
            )
          ) : answers && answers.length === 0 ? (
            <Empty>No store delivers here.</Empty>
          ) : (
            <div className="table-wrap eta-list">
              <table className="table compact" data-testid="map-etas">
                <thead>
                  <tr>
                    <th>Store</th>
                    <th className="num">ETA</th>
                    <th className="num">Range</th>
                  </tr>
                </thead>
                <tbody>
                  {served.map((a) => (
                    <tr key={a.store_id}>
                      <td>
                        <i className="swatch" style={{ background: etaColour(a.eta_seconds) }} />
                        {names.get(a.store_id)?.name ?? a.store_id}
                        {a.degraded && <span className="badge warn">degraded</span>}
                      </td>
                      <td className="num strong">{fmtMin(a.eta_seconds)}</td>
                      <td className="num muted">
                        {Math.round(a.range_seconds[0] / 60)}–{Math.round(a.range_seconds[1] / 60)} min
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {refused.length > 0 && (
                <p className="muted small">
                  {refused.length} nearby {refused.length === 1 ? 'store does' : 'stores do'} not deliver now
                  ({[...new Set(refused.map((r) => ('error' in r ? r.error.code : '')))].join(', ')}).
                </p>
              )}
            </div>
          )}
        </Card>
      </div>
    </div>
  );
}
