import { EtaError } from '../platform/index.js';
import { fallbackTrip, type BatchEtaRequest, type EtaResult } from '../predictor/index.js';
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
    if (!store)
      return {
        ok: false,
        error: new EtaError('store_not_found', `store ${storeId} does not exist`, { field: 'store_id' }),
      };
    if (!store.open) {
      return {
        ok: false,
        error: new EtaError('store_closed', `store ${storeId} is closed`, {
          field: 'store_id',
          details: { opens_at: store.opensAt },
        }),
      };
    }
    const trip = fallbackTrip(storeId, store.location, request.destination, store.deliveryRadiusKm);
    if (!trip.withinRadius) {
      return {
        ok: false,
        error: new EtaError(
          'out_of_delivery_area',
          `destination is beyond store ${storeId}'s delivery radius`,
          { field: 'destination' },
        ),
      };
    }
    const prep = store.prepEwmaSeconds ?? store.prepMeanSeconds;
    const p50 = prep + trip.travelSeconds;
    return {
      ok: true,
      value: {
        storeId,
        p10: p50 * 0.8,
        p50,
        p90: Math.max(p50 * 1.4, store.prepP90Seconds + trip.travelSeconds),
        prepSeconds: prep,
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
