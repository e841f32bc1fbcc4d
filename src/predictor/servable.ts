import { EtaError } from '../platform/index.js';
import { storeNotFound, type StoreFeatureRecord } from '../store/index.js';
import type { Quantiles } from './types.js';

/**
 * Why an answer is degraded: a closed set, so dashboards and clients can rely on the names.
 * - store_features_stale: the store service did not answer; its last known features were used;
 * - store_live_default: a store with no live state yet (just created): default live features;
 * - geo_unavailable: geo did not answer in time; straight-line travel estimates;
 * - model_implausible: the model's ETA was one no order could meet (`implausible`); the fallback estimate;
 * - no_predictor: no predictor answered; the gateway's fallback estimate.
 */
export const DEGRADED_REASONS = [
  'store_features_stale',
  'store_live_default',
  'geo_unavailable',
  'model_implausible',
  'no_predictor',
] as const;
export type DegradedReason = (typeof DEGRADED_REASONS)[number];

/**
 * Whether an ETA can be given for this store now: the error the client gets when not (the same from the predictor
 * and from the gateway's fallback), undefined when it can.
 */
export function unservable(storeId: string, store: StoreFeatureRecord | undefined): EtaError | undefined {
  if (!store) return storeNotFound(storeId);
  if (!store.open)
    return new EtaError('store_closed', `store ${storeId} is closed`, {
      field: 'store_id',
      details: { opens_at: store.opensAt },
    });
  return undefined;
}

/** The refusal of a destination beyond the store's delivery radius. */
export function outOfArea(storeId: string, distanceKm: number, radiusKm: number): EtaError {
  return new EtaError(
    'out_of_delivery_area',
    `destination is ${distanceKm.toFixed(1)} km from store ${storeId}, beyond its ${radiusKm} km radius`,
    { field: 'destination' },
  );
}

/**
 * The range around a median that nothing learned stands behind (a model without quantile outputs, the gateway's
 * fallback): wide on purpose, and at least up to `floorP90` (the store's p90 prep plus travel) when known.
 */
export function fallbackRange(p50: number, floorP90 = 0): { p10: number; p90: number } {
  return { p10: p50 * 0.8, p90: Math.max(p50 * 1.4, floorP90) };
}

/**
 * The estimate nothing learned stands behind (the gateway's fallback, a model answer refused as implausible): the
 * store's prep time plus the ride, with the fallback range up to the store's p90 prep plus the ride.
 */
export function prepPlusRide(
  store: Pick<StoreFeatureRecord, 'prepEwmaSeconds' | 'prepMeanSeconds' | 'prepP90Seconds'>,
  travelSeconds: number,
): Quantiles {
  const p50 = (store.prepEwmaSeconds ?? store.prepMeanSeconds) + travelSeconds;
  return fromTheRide({ ...fallbackRange(p50, store.prepP90Seconds + travelSeconds), p50 }, travelSeconds);
}

/**
 * Whether a model's answer is one no order could meet: a median below the ride alone (or no number). A model asked
 * about what it never learned can extrapolate that far (seen: rider supply missing for a model that always had it
 * in training answered 512 s, in a range of -897 to 630 s, for a 570 s ride).
 */
export function implausible(answer: Quantiles, travelSeconds: number): boolean {
  return !(answer.p50 >= travelSeconds);
}

/**
 * A range that starts no earlier than the ride alone ends: a range widened around its median (the online
 * calibration, a wide fallback) can reach below it, even below zero, which no order meets. Keeps p10 ≤ p50 for any
 * answer that is not `implausible`.
 */
export function fromTheRide(answer: Quantiles, travelSeconds: number): Quantiles {
  return answer.p10 >= travelSeconds ? answer : { ...answer, p10: travelSeconds };
}
