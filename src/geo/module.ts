import { stat } from 'node:fs/promises';
import type { EventLog, Subscription } from '../events/index.js';
import { Gauge, type ModuleContext, type Service } from '../platform/index.js';
import type { GeoConfig } from './config.js';
import { startRiderProjection } from './rider-projection.js';
import { geoRoutes, type GeoRoutes } from './routes.js';
import { GeoService } from './service.js';
import { loadZoneSpeeds, speedsFileOf } from './speeds-file.js';

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

export function createGeoModule(ctx: ModuleContext, config: GeoConfig, events?: GeoEvents): GeoModule {
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
      watcher = setInterval(() => void watchSpeeds(), config.speedsReloadMs);
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
