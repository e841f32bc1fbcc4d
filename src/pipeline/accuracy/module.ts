import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EventsConfig } from '../../events/index.js';
import { storeZone } from '../../features/index.js';
import { defineModule } from '../../platform/index.js';
import type { ShadowSummary } from '../promotion/policy.js';
import { startAccuracyProjection, type AccuracyProjection, type AccuracyReport } from './projection.js';

export interface AccuracyProvides {
  /** The join's summary for `/v1/events/accuracy` and the console; `starting` until the projection runs. */
  summary(): AccuracyReport | { status: 'starting' };
  /** Champion and challenger on the same shadowed orders (the promotion policy's shadow rule). */
  comparison(champion: string | undefined, challenger: string | undefined): ShadowSummary | undefined;
}

declare module '../../platform/module-definition.js' {
  interface ModuleProvides {
    accuracy: AccuracyProvides;
  }
}

/**
 * The accuracy join, a projection of the event log in every gateway's process: quotes against deliveries per model
 * version, the per-zone prep-shift check, and the per-segment online ranges the predictors serve (its lease holder
 * saves them to the registry). Off with events.projections.
 */
export const accuracyModule = defineModule<{ events: EventsConfig }, AccuracyProvides>({
  name: 'accuracy',
  description: 'online accuracy: quotes joined with deliveries, zone drift, online ranges',
  needs: ['events', 'registry', 'store'],
  init({ config, ctx, get }) {
    const projections = get('events').projections;
    const { registry } = get('registry');
    const { catalog } = get('store');
    let accuracy: AccuracyProjection | undefined;
    const provides: AccuracyProvides = {
      summary: () => accuracy?.summary() ?? { status: 'starting' },
      comparison: (champion, challenger) => accuracy?.comparison(champion, challenger),
    };
    if (!projections) return { provides };
    const service = {
      name: 'accuracy',
      start: async () => {
        accuracy = startAccuracyProjection(projections.log, {
          ...projections,
          windowMinutes: config.events.accuracyWindowMinutes,
          logger: ctx.logger,
          registry: ctx.metrics.registry,
          // The per-zone prep-shift check needs each store's zone: its location in the catalog.
          zoneOfStores: async (ids) =>
            new Map([...(await catalog.getMany(ids))].map(([id, s]) => [id, storeZone(s.location)])),
          // The join feeds the per-segment online ranges every predictor serves (docs/model.md, "Serving").
          onlineRanges: {
            registry,
            stores: (ids) => catalog.getMany(ids),
            holder: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
          },
        });
      },
      stop: async () => accuracy?.close(),
    };
    return { provides, services: [service] };
  },
});
