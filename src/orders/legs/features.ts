import {
  buildFeatureVector,
  FEATURE_COUNT,
  FEATURE_SPEC,
  haversineKm,
  localTime,
} from '../../features/index.js';
import type { FeatureSpec } from '../../model/index.js';
import { LIVE_STAGES, type OrderSnapshot } from './types.js';

/**
 * The one feature definition of the leg models: every leg reads the same vector, built by `legFeatures` both for
 * training rows and for live snapshots, so the two cannot disagree. Everything in it is known at `nowMs`: the
 * checkout features as of creation (the checkout model's own, src/features), the stage and how long the order has
 * been in it, the hour of the week now, and where the rider was at their latest ping. Unknown values are NaN.
 */
export const LEG_FEATURE_VERSION = 1;

const LIVE_FEATURES: FeatureSpec[] = [
  { name: 'stage', type: 'categorical', categories: [...LIVE_STAGES] },
  { name: 'elapsed_s', type: 'numeric' },
  { name: 'time_in_stage_s', type: 'numeric' },
  { name: 'accept_wait_s', type: 'numeric' },
  /** Accepted to ready when ready, accepted to now while cooking. */
  { name: 'kitchen_s', type: 'numeric' },
  { name: 'hour_now', type: 'numeric' },
  { name: 'weekday_now', type: 'numeric' },
  { name: 'rider_to_store_km', type: 'numeric' },
  { name: 'rider_to_door_km', type: 'numeric' },
  { name: 'rider_ping_age_s', type: 'numeric' },
  /** Straight-line share of the store-to-door distance still ahead of the rider. */
  { name: 'door_share_left', type: 'numeric' },
];

export const LEG_FEATURE_SPEC: FeatureSpec[] = [
  ...LIVE_FEATURES,
  ...FEATURE_SPEC.map((f) => ({
    ...f,
    name: `checkout_${f.name}`,
    ...(f.categories ? { categories: [...f.categories] } : {}),
  })),
];
export const LEG_FEATURE_COUNT = LEG_FEATURE_SPEC.length;
const CHECKOUT_AT = LIVE_FEATURES.length;

const STAGE_CODE: Record<string, number> = Object.fromEntries(LIVE_STAGES.map((s, i) => [s, i]));

/** Reused by `legFeatures`: the checkout part is built into it, then copied. */
const checkoutScratch = new Float64Array(FEATURE_COUNT);

/** Fills `out` (length LEG_FEATURE_COUNT) for `snapshot` as of `nowMs`. */
export function legFeatures(snapshot: OrderSnapshot, nowMs: number, out: Float64Array): Float64Array {
  const s = snapshot;
  const t = s.stageAtMs;
  const created = s.createdAtMs;
  const stageStart = s.stage === 'created' ? created : (t[s.stage] ?? created);
  const accepted = t.accepted;
  const ready = t.ready;
  out[0] = STAGE_CODE[s.stage] ?? Number.NaN;
  out[1] = (nowMs - created) / 1000;
  out[2] = Math.max(0, (nowMs - stageStart) / 1000);
  out[3] = accepted === undefined ? Number.NaN : (accepted - created) / 1000;
  out[4] =
    accepted === undefined
      ? Number.NaN
      : ((ready ?? (s.stage === 'accepted' ? nowMs : Number.NaN)) - accepted) / 1000;
  const now = localTime(s.store.timezone, nowMs);
  out[5] = now.hour;
  out[6] = now.weekday;
  const r = s.rider;
  if (r) {
    const here = { lat: r.lat, lng: r.lng };
    const toDoor = haversineKm(here, s.destination);
    out[7] = haversineKm(here, s.store.location);
    out[8] = toDoor;
    out[9] = Math.max(0, (nowMs - r.atMs) / 1000);
    const span = haversineKm(s.store.location, s.destination);
    out[10] = span > 0.05 ? toDoor / span : Number.NaN;
  } else {
    out[7] = out[8] = out[9] = out[10] = Number.NaN;
  }
  buildFeatureVector(
    { orderedAtMs: created, items: s.items, subtotal: s.subtotal },
    s.store,
    s.trip,
    checkoutScratch,
  );
  for (let f = 0; f < FEATURE_COUNT; f++) out[CHECKOUT_AT + f] = checkoutScratch[f]!;
  return out;
}
