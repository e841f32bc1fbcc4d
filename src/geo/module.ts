import { stat } from 'node:fs/promises';
import type { EventLog, Subscription } from '../events/index.js';
import { defineModule, Gauge, type ModuleContext, type Service } from '../platform/index.js';
import { CachedGeo, travelSnapshotCodec } from './cached-geo.js';
import { GeoClient } from './client.js';
import type { GeoConfig } from './config.js';
import { startRiderProjection } from './rider-projection.js';
import { GEO_ROUTE_PREFIX, geoRoutes, type GeoRoutes } from './routes.js';
import { GeoService } from './service.js';
import { loadZoneSpeeds, speedsFileOf } from './speeds-file.js';
import { ZoneSpeedTable } from './travel.js';

export interface GeoModule {
  service: Service;
  geo: GeoService;
  /** Register with `{ prefix: GEO_ROUTE_PREFIX }`. */
  routes: GeoRoutes;
  /** Reads the speeds file again (after training wrote a new one); false when there is none. */
  reloadSpeeds(): Promise<boolean>;
}

/** The event log whose `rider.location` events feed rider supply. */
export interface GeoEvents {
  log: EventLog;
  pollMs: number;
}

/**
 * The champion's zone speeds in the shared model registry (a pod has no file the pipeline wrote). The app wires it;
 * geo cannot see the registry itself.
 */
export interface ChampionSpeeds {
  /** Changes whenever an alias moves: cheap to poll. */
  revision(): Promise<string>;
  /** The champion's speeds (geo's JSON), or undefined: no champion yet, or one registered without speeds. */
  load(): Promise<unknown>;
}

export function createGeoModule(
  ctx: ModuleContext,
  config: GeoConfig,
  events?: GeoEvents,
  champion?: ChampionSpeeds,
): GeoModule {
  const geo = new GeoService(config);
  const file = speedsFileOf(ctx.platform.dataDir, config.speedsFile);
  const log = ctx.logger.child({ module: 'geo' });

  const reloadSpeeds = async (): Promise<boolean> => {
    const loaded = await loadZoneSpeeds(file);
    // A corrupt speeds file is a broken deployment, not something to serve around silently.
    if (!loaded.ok) throw new Error(`geo: ${loaded.error}`);
    if (!loaded.value) {
      log.info({ file }, 'no learned zone speeds yet: using default speeds');
      return false;
    }
    if (loaded.value.resolution !== config.h3Resolution) {
      log.warn(
        { file, fileResolution: loaded.value.resolution, h3Resolution: config.h3Resolution },
        'speeds file uses another H3 resolution',
      );
    }
    geo.setSpeeds(loaded.value);
    log.info({ file, trips: loaded.value.trips }, 'zone speeds loaded');
    return true;
  };

  new Gauge({
    name: 'etaserve_geo_riders_tracked',
    help: 'Riders with a position younger than the rider TTL',
    registers: [ctx.metrics.registry],
    collect() {
      this.set(geo.supply.size);
    },
  });
  new Gauge({
    name: 'etaserve_geo_speed_table_trips',
    help: 'Rides the served zone speed table was learned from (0: default speeds)',
    registers: [ctx.metrics.registry],
    collect() {
      this.set(geo.speeds.trips);
    },
  });

  // The champion is only right with the zone speeds it was trained on: follow the file when a promotion rewrites it.
  let loadedMtimeMs = 0;
  const watchSpeeds = async (): Promise<void> => {
    const mtimeMs = await stat(file).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (mtimeMs === 0 || mtimeMs === loadedMtimeMs) return;
    loadedMtimeMs = mtimeMs;
    await reloadSpeeds().catch((e: unknown) =>
      log.error({ err: e, file }, 'new speeds file refused: keeping the old speeds'),
    );
  };
  // With a registry, the champion's own speeds win over the file; a champion registered without them (older than
  // the registry's zone_speeds) leaves the file in charge.
  let championRevision: string | undefined;
  let servingChampion = false;
  const followChampion = async (): Promise<void> => {
    if (!champion) return;
    const revision = await champion.revision();
    if (revision === championRevision) return;
    const json = await champion.load();
    championRevision = revision;
    if (json === undefined) {
      // Back to the file: read it again even if unchanged, since the previous champion's speeds are being served.
      if (servingChampion) loadedMtimeMs = 0;
      servingChampion = false;
      return;
    }
    const table = ZoneSpeedTable.fromJSON(json);
    if (!table.ok) {
      log.error({ error: table.error }, "the champion's zone speeds are not a table: keeping the old speeds");
      return;
    }
    geo.setSpeeds(table.value);
    servingChampion = true;
    log.info({ trips: table.value.trips }, "the champion's zone speeds loaded from the registry");
  };
  const follow = async (): Promise<void> => {
    await followChampion().catch((e: unknown) =>
      log.warn(
        { err: e },
        'cannot read the champion zone speeds from the registry: keeping the current speeds',
      ),
    );
    if (!servingChampion) await watchSpeeds();
  };
  let watcher: NodeJS.Timeout | undefined;

  let projection: Subscription | undefined;
  const service: Service = {
    name: 'geo',
    start: async () => {
      loadedMtimeMs = await stat(file).then(
        (s) => s.mtimeMs,
        () => 0,
      );
      await reloadSpeeds();
      await followChampion().catch((e: unknown) =>
        log.warn(
          { err: e },
          'cannot read the champion zone speeds from the registry: serving the file or defaults',
        ),
      );
      watcher = setInterval(() => void follow(), config.speedsReloadMs);
      watcher.unref();
      if (events) {
        const replayMinutes = Math.ceil(config.riderTtlSeconds / 60) + 1;
        projection = await startRiderProjection(events.log, geo.supply, {
          replayMinutes,
          pollMs: events.pollMs,
          logger: log,
        });
      }
    },
    stop: async () => {
      clearInterval(watcher);
      await projection?.close();
    },
  };
  return { service, geo, routes: geoRoutes(geo), reloadSpeeds };
}

declare module '../platform/module-definition.js' {
  interface ModuleProvides {
    /** Trip estimates through the process's `geo-trips` cache. */
    geo: CachedGeo;
  }
}

interface GeoModuleConfig {
  geo: GeoConfig;
  topology: { geoUrl: string };
}

export const geoModule = defineModule<GeoModuleConfig, CachedGeo>({
  name: 'geo',
  description: 'distances, H3 zones, travel-time estimates, rider supply',
  needs: ['cache', 'registry', 'events'],
  port: (config) => config.geo.port,
  init({ config, ctx, get }) {
    const { registry } = get('registry');
    const events = get('events').projections;
    const cache = get('cache');
    // Geo serves the champion's own zone speeds, from the registry every process shares.
    const geo = createGeoModule(ctx, config.geo, events, {
      revision: () => registry.aliasesRevision(),
      load: async () => {
        const champion = await registry.resolve('champion');
        return champion === undefined ? undefined : registry.loadZoneSpeeds(champion);
      },
    });
    return {
      provides: new CachedGeo(geo.geo, cache.cacheFor('geo-trips', { codec: travelSnapshotCodec })),
      services: [geo.service],
      internalRoutes: [{ plugin: geo.routes, prefix: GEO_ROUTE_PREFIX }],
    };
  },
  remote: {
    needs: ['cache'],
    configured: (config) => config.topology.geoUrl !== '',
    client({ config, get, remote }) {
      const cache = get('cache');
      const client = new GeoClient(remote('geo', config.topology.geoUrl));
      return {
        provides: new CachedGeo(client, cache.cacheFor('geo-trips', { codec: travelSnapshotCodec })),
      };
    },
  },
});
