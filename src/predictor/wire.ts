import { EtaError, HTTP_STATUS, type ErrorCode } from '../platform/index.js';
import type { BatchEtaWireResult, EtaErrorWire } from './schemas.js';
import type { BatchEtaRequest, EtaRequest, EtaResult } from './types.js';

/**
 * Results on the internal wire: a prediction crosses as it is (the response schema serializes its own fields), and
 * only an error is taken apart and rebuilt, so a remote predictor answers exactly like a local one.
 */
export function resultToWire(result: EtaResult): BatchEtaWireResult {
  if (result.ok) return { prediction: result.value };
  const { code, message, field, details } = result.error;
  return { error: { code, message, field, details } };
}

export function resultFromWire(item: BatchEtaWireResult): EtaResult {
  // A degraded reason this version does not know (from a newer replica) passes through as the string it is.
  if ('prediction' in item && item.prediction) return { ok: true, value: item.prediction };
  return { ok: false, error: errorFromWire((item as { error?: EtaErrorWire }).error) };
}

function errorFromWire(e: EtaErrorWire | undefined): EtaError {
  if (!e) return new EtaError('internal', 'empty result');
  // A code this version does not know (from a newer replica) is an internal error here.
  const code = (e.code in HTTP_STATUS ? e.code : 'internal') as ErrorCode;
  return new EtaError(code, e.message, { field: e.field, details: e.details });
}

/** One store's ETA as the batch the internal route takes: its schema refuses a `storeId` beside `storeIds`. */
export function asBatch({ storeId, ...rest }: EtaRequest): BatchEtaRequest {
  return { ...rest, storeIds: [storeId] };
}
