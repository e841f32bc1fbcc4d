import type { DegradedReason } from './servable.js';
import { EtaError, HTTP_STATUS, type ErrorCode } from '../platform/index.js';
import type { InternalBatchResponse } from './schemas.js';
import type { EtaPrediction, EtaResult } from './types.js';

/** Results to and from the internal wire format, so a remote predictor answers exactly like a local one. */
export function resultToWire(result: EtaResult): InternalBatchResponse['results'][number] {
  if (!result.ok) {
    const { error } = result;
    return {
      error: {
        code: error.code,
        message: error.message,
        ...(error.field !== undefined ? { field: error.field } : {}),
        ...(error.details && 'opens_at' in error.details
          ? { opens_at: error.details.opens_at as string | null }
          : {}),
      },
    };
  }
  const p = result.value;
  return {
    prediction: {
      store_id: p.storeId,
      p10: p.p10,
      p50: p.p50,
      p90: p.p90,
      prep_seconds: p.prepSeconds,
      travel_seconds: p.travelSeconds,
      distance_km: p.distanceKm,
      timezone: p.timezone,
      model_version: p.modelVersion,
      degraded: p.degraded,
      degraded_reasons: p.degradedReasons,
    },
  };
}

export function resultFromWire(item: InternalBatchResponse['results'][number]): EtaResult {
  if (item.prediction) {
    const p = item.prediction;
    const value: EtaPrediction = {
      storeId: p.store_id,
      p10: p.p10,
      p50: p.p50,
      p90: p.p90,
      prepSeconds: p.prep_seconds,
      travelSeconds: p.travel_seconds,
      distanceKm: p.distance_km,
      timezone: p.timezone,
      modelVersion: p.model_version,
      degraded: p.degraded,
      // A string on the wire: a replica of a newer version may name a reason this one does not know yet.
      degradedReasons: p.degraded_reasons as DegradedReason[],
    };
    return { ok: true, value };
  }
  const e = item.error ?? { code: 'internal', message: 'empty result' };
  const code = (e.code in HTTP_STATUS ? e.code : 'internal') as ErrorCode;
  const details = e.opens_at !== undefined ? { opens_at: e.opens_at } : undefined;
  return { ok: false, error: new EtaError(code, e.message, { field: e.field, details }) };
}
