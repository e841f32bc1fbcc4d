import type { LatLng, StoreSnapshot, TripSnapshot } from '../../features/index.js';

/** The stages of a live order, in order. `delivered` leaves nothing to predict (every quantile is 0). */
export const LEG_STAGES = ['created', 'accepted', 'ready', 'picked_up', 'delivered'] as const;
export type LegStage = (typeof LEG_STAGES)[number];

/** The stages with time left, each with its own calibration. */
export const LIVE_STAGES = ['created', 'accepted', 'ready', 'picked_up'] as const;
export type LiveStage = (typeof LIVE_STAGES)[number];

/** The three legs of an order's remaining time. */
export const LEG_NAMES = ['ready', 'pickup', 'door'] as const;
export type LegName = (typeof LEG_NAMES)[number];

/**
 * What is known about an order at one moment: nothing in it may come from after that moment. The store and trip
 * records are the checkout model's inputs as of the order's creation (src/features `StoreSnapshot` and
 * `TripSnapshot`: what the predictor built the quote from); the rider's position is their latest ping.
 */
export interface OrderSnapshot {
  stage: LegStage;
  createdAtMs: number;
  /** When each stage reached so far began (`accepted`, `ready`, `picked_up`, ...); other keys are ignored. */
  stageAtMs: Partial<Record<LegStage, number>>;
  store: { storeId: string; location: LatLng } & StoreSnapshot;
  /** Store to door, as the checkout model saw it. */
  trip: TripSnapshot;
  destination: LatLng;
  items?: number | undefined;
  subtotal?: number | undefined;
  /** The checkout quote: seconds from creation, and the promise. `pLate()` without an argument uses the promise. */
  quote?: { p10Seconds: number; p50Seconds: number; p90Seconds: number; promisedAtMs: number } | undefined;
  riderId?: string | null | undefined;
  /** The rider's latest position, once a rider has the order. */
  rider?: { lat: number; lng: number; atMs: number } | null | undefined;
}

/** One leg's own quantiles, seconds from now (raw model outputs, before the combined calibration). */
export interface LegQuantiles {
  p10: number;
  p50: number;
  p90: number;
}

/** The remaining time of an order at `nowMs`, seconds; calibrated per stage. */
export interface RemainingEta {
  stage: LegStage;
  p10: number;
  p50: number;
  p90: number;
  /** nowMs + p50. */
  etaAtMs: number;
  /**
   * Probability that the order is delivered after `promisedAtMs` (default: the snapshot's quote's promise; NaN
   * without either). Calibrated per stage.
   */
  pLate(promisedAtMs?: number): number;
  /** The legs still ahead, each as its own model sees it. */
  legs: Partial<Record<LegName, LegQuantiles>>;
}
