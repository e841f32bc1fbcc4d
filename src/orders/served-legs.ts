import type { Logger } from '../platform/index.js';
import type { ModelRegistry } from '../registry/index.js';
import {
  LEG_NAMES,
  OrderLegs,
  type LegName,
  type OrderLegsArtifact,
  type OrderSnapshot,
} from './legs/index.js';
import { quoteOnly, type Remaining, type RemainingTimeModel } from './live-eta.js';

/** The public names of the legs in answers: what is being waited for. */
const LEG_LABEL: Record<LegName, string> = { ready: 'prep', pickup: 'pickup', door: 'ride' };

/** The remaining time from the champion's leg models (docs/orders.md): stage by stage, the rider's position, P(late). */
export function legsRemaining(legs: OrderLegs, version: string): RemainingTimeModel {
  return {
    version,
    remaining({ order, rider, checkout, nowMs }): Remaining | undefined {
      const { quote, createdAtMs, destination } = order;
      if (!checkout || !quote || createdAtMs === undefined || !destination) return undefined;
      if (order.stage === 'cancelled' || order.stage === 'delivered') return undefined;
      const snapshot: OrderSnapshot = {
        stage: order.stage,
        createdAtMs,
        stageAtMs: order.stageAtMs,
        store: checkout.store,
        trip: checkout.trip,
        destination,
        quote,
        riderId: order.riderId ?? null,
        rider: rider ?? null,
      };
      const r = legs.remaining(snapshot, nowMs);
      const ahead: Record<string, number> = {};
      for (const name of LEG_NAMES) {
        const leg = r.legs[name];
        if (leg) ahead[LEG_LABEL[name]] = leg.p50;
      }
      return {
        p10Seconds: r.p10,
        p50Seconds: r.p50,
        p90Seconds: r.p90,
        pLate: r.pLate(quote.promisedAtMs),
        legs: ahead,
        modelVersion: version,
        degradedReasons: [],
      };
    },
  };
}

/**
 * The champion's leg models, followed through the registry every process shares: a promotion with legs swaps them
 * in; a champion registered without legs leaves the quote-only answer (degraded `no_leg_model`).
 */
export class ChampionLegs {
  private current: RemainingTimeModel = quoteOnly;
  private revision: string | undefined;

  constructor(
    private readonly registry: Pick<ModelRegistry, 'aliasesRevision' | 'resolve' | 'loadOrderLegs'>,
    private readonly logger: Logger,
  ) {}

  get model(): RemainingTimeModel {
    return this.current;
  }

  /** Loads the champion's legs when an alias moved; a failure keeps what serves. */
  async follow(): Promise<void> {
    try {
      const revision = await this.registry.aliasesRevision();
      if (revision === this.revision) return;
      const champion = await this.registry.resolve('champion');
      const artifact = champion === undefined ? undefined : await this.registry.loadOrderLegs(champion);
      this.revision = revision;
      if (!champion || artifact === undefined) {
        if (this.current !== quoteOnly)
          this.logger.info({ champion }, 'the champion has no order legs: live ETAs follow the quote');
        this.current = quoteOnly;
        return;
      }
      this.current = legsRemaining(OrderLegs.fromArtifact(artifact as OrderLegsArtifact), champion);
      this.logger.info({ champion }, "the champion's order legs serve live ETAs");
    } catch (e) {
      this.logger.warn({ err: e }, 'order legs not loaded: keeping the current ones');
    }
  }
}
