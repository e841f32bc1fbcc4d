import type { DegradedReason } from './servable.js';
import type { LatLng } from '../features/index.js';
import type { EtaError, Result } from '../platform/index.js';

export interface EtaRequest {
  storeId: string;
  destination: LatLng;
  orderedAtMs: number;
  items?: number | undefined;
  subtotal?: number | undefined;
}

export interface BatchEtaRequest {
  storeIds: readonly string[];
  destination: LatLng;
  orderedAtMs: number;
  items?: number | undefined;
  subtotal?: number | undefined;
}

/** An ETA's range: the low end, the median and the high end, in seconds from the order. */
export interface Quantiles {
  p10: number;
  p50: number;
  p90: number;
}

/** The predicted distribution of one order's delivery time, in seconds from the order. */
export interface EtaPrediction extends Quantiles {
  storeId: string;
  prepSeconds: number;
  travelSeconds: number;
  distanceKm: number;
  timezone: string;
  modelVersion: string;
  degraded: boolean;
  /** Why an answer is degraded. */
  degradedReasons: DegradedReason[];
}

export type EtaResult = Result<EtaPrediction, EtaError>;

/** What the gateway needs from model serving, in-process or remote. */
export interface Predictor {
  predict(request: EtaRequest): Promise<EtaResult>;
  /** One answer per store, in order. */
  predictBatch(request: BatchEtaRequest): Promise<EtaResult[]>;
}
