import { openEventLog, type EventsConfig } from '../../events/index.js';
import type { GeoConfig } from '../../geo/index.js';
import { openModelRegistry, type RegistryDatabase } from '../../registry/index.js';
import type { SimulatorConfig } from '../../simulator/index.js';
import { listAllStores, openStoreCatalog, type StoreConfig } from '../../store/index.js';
import type { PipelineConfig } from '../config.js';
import { compactEventLog, lakeDirOf } from '../etl/lake.js';
import type { ShadowSummary } from '../promotion/policy.js';
import { runTraining, type TrainingData } from '../training/run.js';
import { shadowFromLake } from '../promotion/shadow.js';
import { countLakeOrders, lakeOnlyData, parquetData, simulatedData } from '../etl/sources.js';
import type { OrderHistory } from '../history.js';

const DAY = 86_400_000;

/** Everything a scheduled run needs, as plain data: it crosses into a child process as one JSON message. */
export interface ScheduledJobSpec {
  dataDir: string;
  pipeline: PipelineConfig;
  geo: GeoConfig;
  simulator: SimulatorConfig;
  registry: RegistryDatabase;
  store: StoreConfig;
  /** The event log to compact (no lake writer runs); absent: the lake is used as it is. */
  events?: { config: EventsConfig; fallbackRedisUrl?: string };
  shadow?: ShadowSummary;
  nowMs: number;
}

export interface ScheduledRunSummary {
  runId: string;
  version: string;
  promoted: boolean;
  decision: string;
  source: string;
  report: string;
  compacted: number;
  /** Nothing was trained: the lake holds too little and a champion already serves. */
  skipped?: boolean;
}

/**
 * One tick of continuous training: compact the event log into the lake, take the window's orders from the lake, then
 * train, compare, register and promote through the policy. With `pipeline.source` lake a short lake fails the run;
 * in the demo (simulated) it is skipped, or with no champion the first model trains on the simulated city.
 */
export async function scheduledRun(
  spec: ScheduledJobSpec,
  log: (line: string) => void,
): Promise<ScheduledRunSummary> {
  const lake = lakeDirOf(spec.dataDir);
  let compacted = 0;
  if (spec.events) {
    const eventLog = openEventLog(spec.events.config, spec.dataDir, {
      role: 'reader',
      ...(spec.events.fallbackRedisUrl ? { fallbackRedisUrl: spec.events.fallbackRedisUrl } : {}),
    });
    await eventLog.open();
    try {
      const c = await compactEventLog(eventLog, lake, { batch: spec.pipeline.compactBatch });
      compacted = c.events;
      log(
        c.writerElsewhere
          ? 'the lake writer of another process keeps the lake: training on it as it is'
          : `compacted ${compacted} events into the lake${c.forgets > 0 ? `, applied ${c.forgets} forget(s) (${c.forgottenRows} rows removed)` : ''}`,
      );
    } finally {
      await eventLog.close();
    }
  }
  const window = { fromMs: spec.nowMs - spec.pipeline.windowDays * DAY, toMs: spec.nowMs };
  let data: TrainingData;
  if (spec.pipeline.source === 'lake') {
    // Production: the lake or a failed run (LakeTooSmallError, with the counts); the champion, or with none the
    // gateway's fallback ETAs, keep serving meanwhile.
    data = await lakeOnlyData(lake, await catalogStores(spec), window, spec.pipeline.minLakeOrders);
    return await trainScheduled(spec, data, lake, window, compacted, log);
  }
  // `simulated`, or `auto` given unresolved (a library caller): the demo's behaviour. Processes resolve `auto`
  // from their host before they get here.
  const inLake = await countLakeOrders(lake, window);
  if (inLake >= spec.pipeline.minLakeOrders) {
    data = await parquetData(lake, await catalogStores(spec), window);
  } else {
    // The simulated city only ever makes the first model: retraining on it every tick learnt nothing new and
    // registered a near-copy of the champion each time (the demo's pile of versions).
    const champion = await withRegistry(spec, (r) => r.resolve('champion'));
    if (champion) {
      const decision = `skipped: ${inLake} delivered orders in the lake's window, fewer than the ${spec.pipeline.minLakeOrders} a run needs (pipeline.minLakeOrders); champion ${champion} keeps serving`;
      log(decision);
      return {
        runId: '-',
        version: champion,
        promoted: false,
        decision,
        source: 'lake',
        report: '',
        compacted,
        skipped: true,
      };
    }
    log(
      `${inLake} delivered orders in the lake's window (< ${spec.pipeline.minLakeOrders}) and no champion: the first model trains on the simulated city`,
    );
    data = simulatedData({
      seed: spec.simulator.seed,
      days: Math.min(spec.simulator.days, spec.pipeline.windowDays),
      stores: spec.simulator.stores,
      ordersPerDay: spec.simulator.ordersPerDay,
      nowMs: spec.nowMs,
    });
  }
  return trainScheduled(spec, data, lake, window, compacted, log);
}

async function trainScheduled(
  spec: ScheduledJobSpec,
  data: TrainingData,
  lake: string,
  window: { fromMs: number; toMs: number },
  compacted: number,
  log: (line: string) => void,
): Promise<ScheduledRunSummary> {
  const registry = openModelRegistry(spec.registry);
  try {
    // The shadow join in the lake compares the current challenger with the champion on the same live orders.
    const shadow =
      (await shadowFromLake(
        lake,
        await registry.resolve('champion'),
        await registry.resolve('challenger'),
        window,
      )) ?? spec.shadow;
    if (shadow)
      log(
        `shadow: ${shadow.samples} orders, champion MAE ${shadow.championMaeS.toFixed(1)} s, challenger ${shadow.challengerMaeS.toFixed(1)} s`,
      );
    const result = await runTraining(data, {
      registry,
      dataDir: spec.dataDir,
      pipeline: spec.pipeline,
      geo: spec.geo,
      log,
      actor: 'schedule',
      ...(shadow ? { shadow } : {}),
    });
    return {
      runId: result.runId,
      version: result.record.version,
      promoted: result.promoted,
      decision: result.decision.summary,
      source: data.describe,
      report: result.reportFiles.html,
      compacted,
    };
  } finally {
    await data.close?.();
    await registry.close();
  }
}

async function withRegistry<T>(
  spec: ScheduledJobSpec,
  fn: (registry: ReturnType<typeof openModelRegistry>) => Promise<T>,
): Promise<T> {
  const registry = openModelRegistry(spec.registry);
  try {
    return await fn(registry);
  } finally {
    await registry.close();
  }
}

async function catalogStores(spec: ScheduledJobSpec): Promise<OrderHistory['stores']> {
  const catalog = await openStoreCatalog(spec.store, { dataDir: spec.dataDir });
  try {
    return await listAllStores(catalog);
  } finally {
    await catalog.close();
  }
}
