import { EtaError } from '../platform/index.js';
import {
  fallbackTrip,
  outOfArea,
  prepPlusRide,
  unservable,
  type BatchEtaRequest,
  type EtaResult,
} from '../predictor/index.js';
import type { StoreFeatures } from '../store/index.js';

/**
 * The answer when no predictor can: the store's prep-time statistics plus distance over a zone speed. Marked
 * degraded; the range is wide because nothing learned stands behind it.
 */
export async function fallbackEtas(stores: StoreFeatures, request: BatchEtaRequest): Promise<EtaResult[]> {
  let records;
  try {
    records = await stores.getStoreFeatures(request.storeIds, request.orderedAtMs);
  } catch (e) {
    throw new EtaError('upstream_unavailable', 'neither a predictor nor the store service is available', {
      cause: e,
    });
  }
  return request.storeIds.map((storeId): EtaResult => {
    const store = records.get(storeId);
    const refusal = unservable(storeId, store);
    if (refusal || !store) return { ok: false, error: refusal! };
    const trip = fallbackTrip(storeId, store.location, request.destination, store.deliveryRadiusKm);
    if (!trip.withinRadius)
      return { ok: false, error: outOfArea(storeId, trip.distanceKm, store.deliveryRadiusKm) };
    return {
      ok: true,
      value: {
        storeId,
        ...prepPlusRide(store, trip.travelSeconds),
        prepSeconds: store.prepEwmaSeconds ?? store.prepMeanSeconds,
        travelSeconds: trip.travelSeconds,
        distanceKm: trip.distanceKm,
        timezone: store.timezone,
        modelVersion: 'fallback',
        degraded: true,
        degradedReasons: ['no_predictor'],
      },
    };
  });
}
