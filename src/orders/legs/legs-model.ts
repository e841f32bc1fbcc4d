import { loadModel, type Model, type ModelArtifact } from '../../model/index.js';
import {
  calibratedLevel,
  calibratedProbability,
  combineLegs,
  rawCdf,
  rawQuantile,
  SAMPLES,
  type StageCalibration,
} from './distribution.js';
import { LEG_FEATURE_COUNT, LEG_FEATURE_SPEC, LEG_FEATURE_VERSION, legFeatures } from './features.js';
import {
  LEG_NAMES,
  LIVE_STAGES,
  type LegName,
  type LegQuantiles,
  type LiveStage,
  type OrderSnapshot,
  type RemainingEta,
} from './types.js';

export const LEGS_ARTIFACT_KIND = 'etaserve-order-legs';
export const LEGS_ARTIFACT_VERSION = 1;

/** One JSON document: the three leg models, the per-stage calibration, and what they were trained on. */
export interface OrderLegsArtifact {
  kind: typeof LEGS_ARTIFACT_KIND;
  version: typeof LEGS_ARTIFACT_VERSION;
  featureVersion: number;
  /** Feature names in order; a loader refuses a different list. */
  features: string[];
  createdAt: string;
  /** Orders created before trainEndMs trained the legs; [trainEndMs, calibrationEndMs) calibrated them. */
  trainEndMs: number;
  calibrationEndMs: number;
  samples: number;
  legs: Record<LegName, ModelArtifact>;
  calibration: Record<LiveStage, StageCalibration>;
  metrics: Record<string, number>;
}

/** Which legs are still ahead at each stage. */
export const LEGS_LEFT: Record<LiveStage, readonly LegName[]> = {
  created: ['ready', 'pickup', 'door'],
  accepted: ['ready', 'pickup', 'door'],
  ready: ['pickup', 'door'],
  picked_up: ['door'],
};

export class LegsArtifactError extends Error {}

interface LoadedLeg {
  model: Model;
  p10: number;
  p50: number;
  p90: number;
}

const isLive = (stage: string): stage is LiveStage => (LIVE_STAGES as readonly string[]).includes(stage);

/**
 * The live ETA of an order at any stage: `remaining(snapshot, nowMs)`, synchronous, a few tens of microseconds
 * (three tree ensembles, SAMPLES additions per leg and one sort). Not safe to share across threads; one per
 * worker.
 */
export class OrderLegs {
  private readonly row = new Float64Array(LEG_FEATURE_COUNT);
  private readonly out = new Float64Array(8);

  private constructor(
    readonly artifact: OrderLegsArtifact,
    private readonly legs: Record<LegName, LoadedLeg>,
  ) {}

  static fromArtifact(artifact: OrderLegsArtifact): OrderLegs {
    if (artifact?.kind !== LEGS_ARTIFACT_KIND)
      throw new LegsArtifactError(`not an order legs artifact (kind ${String(artifact?.kind)})`);
    if (artifact.version !== LEGS_ARTIFACT_VERSION)
      throw new LegsArtifactError(`unsupported order legs artifact version ${artifact.version}`);
    const names = LEG_FEATURE_SPEC.map((f) => f.name);
    if (
      artifact.featureVersion !== LEG_FEATURE_VERSION ||
      artifact.features.length !== names.length ||
      artifact.features.some((f, i) => f !== names[i])
    )
      throw new LegsArtifactError('the artifact was trained with other leg features');
    if (artifact.samples !== SAMPLES)
      throw new LegsArtifactError(
        `the artifact was calibrated with ${artifact.samples} draws, not ${SAMPLES}`,
      );
    for (const stage of LIVE_STAGES)
      if (!artifact.calibration?.[stage]?.pit?.length)
        throw new LegsArtifactError(`no calibration for stage ${stage}`);
    const legs = {} as Record<LegName, LoadedLeg>;
    for (const name of LEG_NAMES) {
      const loaded = loadModel(artifact.legs[name]);
      if (!loaded.ok) throw new LegsArtifactError(`leg ${name}: ${loaded.error.message}`);
      const model = loaded.value;
      const at = (q: string): number => {
        const i = model.outputNames.indexOf(q);
        if (i < 0) throw new LegsArtifactError(`leg ${name} has no ${q} output`);
        return i;
      };
      legs[name] = { model, p10: at('p10'), p50: at('p50'), p90: at('p90') };
    }
    return new OrderLegs(artifact, legs);
  }

  /** From `JSON.parse` of `toJSON()`'s text (or the object itself). */
  static fromJSON(json: string | OrderLegsArtifact): OrderLegs {
    return OrderLegs.fromArtifact(typeof json === 'string' ? (JSON.parse(json) as OrderLegsArtifact) : json);
  }

  toJSON(): OrderLegsArtifact {
    return this.artifact;
  }

  /** One leg's raw quantiles for a snapshot, seconds (features already in `this.row`). */
  private leg(name: LegName): LegQuantiles {
    const l = this.legs[name];
    l.model.predict(this.row, this.out);
    return { p10: this.out[l.p10]!, p50: this.out[l.p50]!, p90: this.out[l.p90]! };
  }

  /** The raw (uncalibrated) combined draws of the legs left, sorted; for calibration and tests. */
  rawDraws(
    snapshot: OrderSnapshot,
    nowMs: number,
  ): { legs: Partial<Record<LegName, LegQuantiles>>; draws: Float64Array } {
    const stage = snapshot.stage as LiveStage;
    legFeatures(snapshot, nowMs, this.row);
    const legs: Partial<Record<LegName, LegQuantiles>> = {};
    const list: LegQuantiles[] = [];
    for (const name of LEGS_LEFT[stage]) {
      const q = this.leg(name);
      legs[name] = q;
      list.push(q);
    }
    return { legs, draws: combineLegs(list, new Float64Array(SAMPLES)) };
  }

  remaining(snapshot: OrderSnapshot, nowMs: number): RemainingEta {
    const stage = snapshot.stage;
    const defaultPromise = snapshot.quote?.promisedAtMs;
    if (!isLive(stage)) {
      // delivered: nothing left; late exactly when it came after the promise
      const deliveredAt = snapshot.stageAtMs.delivered ?? nowMs;
      return {
        stage,
        p10: 0,
        p50: 0,
        p90: 0,
        etaAtMs: deliveredAt,
        pLate: (promisedAtMs = defaultPromise) =>
          promisedAtMs === undefined ? Number.NaN : deliveredAt > promisedAtMs ? 1 : 0,
        legs: {},
      };
    }
    const { legs, draws } = this.rawDraws(snapshot, nowMs);
    const cal = this.artifact.calibration[stage];
    const at = (u: number): number => rawQuantile(draws, calibratedLevel(cal, u));
    const p50 = at(0.5);
    return {
      stage,
      p10: Math.min(at(0.1), p50),
      p50,
      p90: Math.max(at(0.9), p50),
      etaAtMs: nowMs + p50 * 1000,
      pLate: (promisedAtMs = defaultPromise) => {
        if (promisedAtMs === undefined || Number.isNaN(promisedAtMs)) return Number.NaN;
        const left = (promisedAtMs - nowMs) / 1000;
        if (left <= 0) return 1;
        return 1 - calibratedProbability(cal, rawCdf(draws, left));
      },
      legs,
    };
  }
}
