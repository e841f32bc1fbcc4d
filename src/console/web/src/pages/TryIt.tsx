import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { allStores, ApiError, post, type EtaAnswer, type StoreJson } from '../api';
import { Badge, Card, Empty, ErrorNote } from '../components/ui';
import { fmtMin, localInputValue, orderedAtIso, zoneInputIso, zoneInputValue, zoneTime } from '../format';

interface Contribution {
  feature: string;
  value: number | string | null;
  p50_seconds: number;
  p10_seconds: number | null;
  p90_seconds: number | null;
}

/** src/predictor/explain.ts */
interface Explanation {
  store_id: string;
  model_version: string;
  eta_seconds: number;
  range_seconds: [number, number];
  bias_seconds: { p50: number };
  adjustment_seconds: { p50: number };
  features: Contribution[];
}

const FEATURE_TEXT: Record<string, string> = {
  distance_km: 'Distance (km)',
  travel_estimate_s: 'Travel estimate (s)',
  hour_local: 'Hour (store local)',
  weekday_local: 'Weekday (0 = Monday)',
  store_category: 'Store category',
  prep_mean_s: 'Usual prep time (s)',
  prep_ewma_s: 'Recent prep time (s)',
  orders_in_kitchen: 'Orders in the kitchen',
  items: 'Items',
  subtotal: 'Subtotal',
  riders_available: 'Riders nearby',
  zone_speed_kmh: 'Zone speed (km/h)',
};

function showValue(v: number | string | null): string {
  if (v === null) return 'missing';
  if (typeof v === 'string') return v;
  return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100);
}

/** A point a little way from the store, inside its radius: a sensible default destination. */
function near(store: StoreJson): { lat: number; lng: number } {
  return { lat: +(store.location.lat + 0.012).toFixed(5), lng: +(store.location.lng + 0.009).toFixed(5) };
}

export function TryIt() {
  const [stores, setStores] = useState<StoreJson[]>([]);
  const [storeId, setStoreId] = useState('');
  const [lat, setLat] = useState('');
  const [lng, setLng] = useState('');
  const [items, setItems] = useState('3');
  const [subtotal, setSubtotal] = useState('32');
  const [orderedAt, setOrderedAt] = useState(() => localInputValue(new Date()));
  const [eta, setEta] = useState<EtaAnswer | null>(null);
  const [why, setWhy] = useState<Explanation | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const abort = new AbortController();
    allStores(abort.signal).then(
      (list) => {
        setStores(list);
        const first = list[0];
        if (first) {
          setStoreId(first.store_id);
          // The order time is read on the store's clock, so it starts at the store's now.
          setOrderedAt(zoneInputValue(new Date(), first.timezone));
          const p = near(first);
          setLat(String(p.lat));
          setLng(String(p.lng));
        }
      },
      (e: unknown) => !abort.signal.aborted && setError(e),
    );
    return () => abort.abort();
  }, []);

  const pickStore = (id: string): void => {
    setStoreId(id);
    const s = stores.find((x) => x.store_id === id);
    if (s) {
      const p = near(s);
      setLat(String(p.lat));
      setLng(String(p.lng));
    }
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = {
      store_id: storeId,
      destination: { lat: Number(lat), lng: Number(lng) },
      items: Number(items),
      subtotal: Number(subtotal),
    };
    const zone = stores.find((x) => x.store_id === storeId)?.timezone;
    const at = zone ? zoneInputIso(orderedAt, zone) : orderedAtIso(orderedAt);
    if (at) body.ordered_at = at;
    try {
      const [answer, explanation] = await Promise.all([
        post<EtaAnswer>('/v1/eta', body),
        post<Explanation>('/v1/admin/explain', body),
      ]);
      setEta(answer);
      setWhy(explanation);
    } catch (err) {
      setEta(null);
      setWhy(null);
      const opensAt = err instanceof ApiError ? err.details?.opens_at : undefined;
      setError(
        err instanceof ApiError && err.code === 'store_closed'
          ? new Error(
              `${err.message}.${typeof opensAt === 'string' && zone ? ` It opens at ${zoneTime(opensAt, zone)}.` : ''} Pick an order time within its opening hours.`,
            )
          : err,
      );
    } finally {
      setBusy(false);
    }
  };

  const store = stores.find((s) => s.store_id === storeId);
  const top = useMemo(() => (why ? why.features.slice(0, 8) : []), [why]);
  const maxAbs = Math.max(1, ...top.map((f) => Math.abs(f.p50_seconds)));
  const total = eta
    ? Math.max(
        1,
        eta.components.prep_seconds +
          eta.components.travel_seconds +
          Math.max(0, eta.components.other_seconds),
      )
    : 1;

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Try it</h1>
          <p className="muted">
            One ETA, as an app would ask for it at checkout, with its components and the features that moved
            it most.
          </p>
        </div>
      </header>
      <div className="grid try-layout">
        <Card title="Order">
          <form className="form" onSubmit={(e) => void submit(e)} data-testid="try-form">
            <label className="field">
              <span>Store</span>
              <select name="store" value={storeId} onChange={(e) => pickStore(e.target.value)} required>
                {stores.map((s) => (
                  <option key={s.store_id} value={s.store_id}>
                    {s.name} ({s.store_id})
                  </option>
                ))}
              </select>
            </label>
            {store && (
              <p className="muted small">
                {store.category} · delivers within {store.delivery_radius_km} km · {store.timezone}
              </p>
            )}
            <div className="row">
              <label className="field">
                <span>Destination lat</span>
                <input
                  name="lat"
                  inputMode="decimal"
                  value={lat}
                  onChange={(e) => setLat(e.target.value)}
                  required
                />
              </label>
              <label className="field">
                <span>Destination lng</span>
                <input
                  name="lng"
                  inputMode="decimal"
                  value={lng}
                  onChange={(e) => setLng(e.target.value)}
                  required
                />
              </label>
            </div>
            <div className="row">
              <label className="field">
                <span>Items</span>
                <input
                  name="items"
                  type="number"
                  min="0"
                  max="1000"
                  value={items}
                  onChange={(e) => setItems(e.target.value)}
                />
              </label>
              <label className="field">
                <span>Subtotal</span>
                <input
                  name="subtotal"
                  type="number"
                  min="0"
                  step="0.01"
                  value={subtotal}
                  onChange={(e) => setSubtotal(e.target.value)}
                />
              </label>
            </div>
            <label className="field">
              <span>Order time{store ? ` (${store.timezone})` : ''}</span>
              <input
                name="ordered-at"
                type="datetime-local"
                value={orderedAt}
                onChange={(e) => setOrderedAt(e.target.value)}
              />
            </label>
            <button className="btn primary" type="submit" disabled={busy || !storeId}>
              {busy ? 'Asking…' : 'Get ETA'}
            </button>
          </form>
        </Card>
        <div className="stack">
          <ErrorNote error={error} />
          {!eta ? (
            <Card>
              <Empty>Pick a store and a destination, then ask for an ETA.</Empty>
            </Card>
          ) : (
            <>
              <Card title="Answer" actions={<Badge tone="info">{eta.model_version}</Badge>}>
                <div className="answer" data-testid="try-answer">
                  <div className="big">{fmtMin(eta.eta_seconds)}</div>
                  <div className="muted">
                    range {Math.round(eta.range_seconds[0] / 60)}–{Math.round(eta.range_seconds[1] / 60)} min
                    · promised by{' '}
                    <span data-testid="promised-at">
                      {store ? zoneTime(eta.promised_at, store.timezone) : zoneTime(eta.promised_at, 'UTC')}
                    </span>{' '}
                    · {eta.components.distance_km.toFixed(1)} km
                    {eta.degraded && <Badge tone="warn">degraded</Badge>}
                  </div>
                </div>
                <div className="split" aria-label="Components">
                  <span
                    className="seg prep"
                    style={{ flexGrow: eta.components.prep_seconds / total }}
                    title="prep"
                  />
                  <span
                    className="seg travel"
                    style={{ flexGrow: eta.components.travel_seconds / total }}
                    title="travel"
                  />
                  <span
                    className="seg other"
                    style={{ flexGrow: Math.max(0, eta.components.other_seconds) / total }}
                    title="other"
                  />
                </div>
                <div className="legend">
                  <span>
                    <i className="swatch prep" /> prep {fmtMin(eta.components.prep_seconds)}
                  </span>
                  <span>
                    <i className="swatch travel" /> travel {fmtMin(eta.components.travel_seconds)}
                  </span>
                  <span>
                    <i className="swatch other" /> handover and waiting {fmtMin(eta.components.other_seconds)}
                  </span>
                </div>
              </Card>
              {why && (
                <Card title="Why: top feature contributions to p50">
                  <ul className="contrib" data-testid="contributions">
                    {top.map((f) => (
                      <li key={f.feature}>
                        <span className="c-name">
                          {FEATURE_TEXT[f.feature] ?? f.feature}
                          <span className="muted"> = {showValue(f.value)}</span>
                        </span>
                        <span className="c-bar">
                          <span className="c-axis" />
                          <span
                            className={`c-fill ${f.p50_seconds >= 0 ? 'up' : 'down'}`}
                            style={{
                              width: `${(Math.abs(f.p50_seconds) / maxAbs) * 50}%`,
                              [f.p50_seconds >= 0 ? 'left' : 'right']: '50%',
                            }}
                          />
                        </span>
                        <span className="c-val num">
                          {f.p50_seconds >= 0 ? '+' : '−'}
                          {Math.abs(f.p50_seconds / 60).toFixed(1)} min
                        </span>
                      </li>
                    ))}
                  </ul>
                  <p className="muted small">
                    Every ETA starts at {fmtMin(why.bias_seconds.p50)} (the model’s average); each feature
                    adds or removes time along the order’s path through the trees.
                    {Math.abs(why.adjustment_seconds.p50) >= 30
                      ? ` Calibration adds ${fmtMin(why.adjustment_seconds.p50)}.`
                      : ''}
                  </p>
                </Card>
              )}
            </>
          )}
        </div>
      </div>
    </div>
  );
}
