/**
 * Scenario 5: scenario 3's ETA load (`/v1/eta` on the cluster) with `/v1/events` beside it in a second generator,
 * and a model promotion (admin API) at the middle of the measured window. Reports the per-second p99 before,
 * during and after the swap, and checks no event is lost: events in 2xx answers vs the ingest's accepted counter.
 */
import { runLoad } from '../../loadgen/index.js';
import type { LoadResult, TimelinePoint } from '../../loadgen/index.js';
import type { PeakConfig } from '../config.js';
import { AUTH, scrapeCounter } from '../shapes.js';
import type { Shape } from '../shapes.js';
import { brief, loadOptions, measured, sleep, summarize } from './platform-common.js';
import type { RunSummary } from './platform-common.js';
import { mixSource } from './platform.js';

export interface MixedResult {
  newVersion: string;
  /** Seconds into the measured window: the promote call answered, and every predictor served the new version. */
  promotedAtSec: number | undefined;
  swappedAtSec: number | undefined;
  promoteMs: number | undefined;
  eta: RunSummary;
  events: RunSummary;
  /** Median of per-second p99 before the promotion, the worst second during the swap, the median after. */
  p99: { before: number; during: number; after: number; spike: number };
  /** Events in 2xx answers, the ingest's `accepted` counter delta, and their difference (lost). */
  eventsCheck: { sent: number; accepted: number; duplicates: number; lost: number };
  errors: string[];
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => x > 0).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
};

/** During = from the promote call to 2 s after every predictor has swapped (or 5 s when the swap was not seen). */
export function p99AroundSwap(
  timeline: TimelinePoint[],
  promotedAt: number | undefined,
  swappedAt: number | undefined,
): MixedResult['p99'] {
  if (promotedAt === undefined)
    return { before: median(timeline.map((t) => t.p99)), during: 0, after: 0, spike: 0 };
  const from = Math.floor(promotedAt);
  const to = Math.ceil(swappedAt ?? promotedAt + 3) + 2;
  const before = median(timeline.filter((t) => t.second < from).map((t) => t.p99));
  const during = Math.max(0, ...timeline.filter((t) => t.second >= from && t.second <= to).map((t) => t.p99));
  const after = median(timeline.filter((t) => t.second > to).map((t) => t.p99));
  return { before, during, after, spike: before > 0 ? Math.round((during / before) * 100) / 100 : 0 };
}

export async function runMixed(
  cfg: PeakConfig,
  shape: Shape,
  catalogFile: string,
  newVersion: string,
  log: (line: string) => void,
): Promise<MixedResult> {
  const m = cfg.platform.mixed;
  const durationSec = m.durationSec;
  const errors: string[] = [];
  const acceptedBefore = await scrapeCounter(
    shape.urls,
    'etaserve_events_ingested_total',
    'result="accepted"',
  );
  const dupBefore = await scrapeCounter(shape.urls, 'etaserve_events_ingested_total', 'result="duplicate"');
  let promotedAt: number | undefined;
  let swappedAt: number | undefined;
  let promoteMs: number | undefined;
  const byName = Object.entries(shape.urlsByName);
  const predictorUrls = byName.filter(([k]) => k.startsWith('predictor')).map(([, u]) => u);
  const watched = predictorUrls.length ? predictorUrls : [shape.gateway];

  const promote = async (): Promise<void> => {
    const t0 = Date.now();
    const res = await fetch(`${shape.gateway}/v1/admin/models/${newVersion}/promote`, {
      method: 'POST',
      headers: AUTH,
    });
    promoteMs = Date.now() - t0;
    promotedAt = Date.now();
    if (!res.ok) errors.push(`promote ${newVersion}: ${res.status} ${(await res.text()).slice(0, 200)}`);
    log(`  promoted ${newVersion} (${promoteMs} ms, ${res.status})`);
    // Each predictor notices the alias move on its next poll; watch until all of them serve the new version.
    for (let i = 0; i < 120; i++) {
      const n = await scrapeCounter(watched, 'etaserve_model_info', `version="${newVersion}"`);
      if (n >= watched.length) {
        swappedAt = Date.now();
        log(`  every predictor serves ${newVersion} ${swappedAt - promotedAt} ms after the promotion`);
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    errors.push(`not every predictor served ${newVersion} within 30 s of the promotion`);
  };

  const etaOpts = {
    ...loadOptions(cfg, shape, '/v1/eta', mixSource({ kind: 'single', catalogFile }), m.etaRate, 'mixed eta'),
    durationSec,
    timeline: true,
  };
  const eventsOpts = {
    ...loadOptions(
      cfg,
      shape,
      '/v1/events',
      mixSource({
        kind: 'events',
        catalogFile,
        eventsPerRequest: m.eventsPerRequest,
        eventIdPrefix: `b${Date.now().toString(36)}`,
        seed: 9,
      }),
      m.eventsPerSec / m.eventsPerRequest,
      'mixed events',
      m.eventsPerRequest,
    ),
    durationSec,
    // No warm-up: every events request is counted, so accepted events can be matched one for one.
    warmupSec: 0,
    connections: 16,
  };
  let promoting: Promise<void> = Promise.resolve();
  const etaRun = measured(cfg, shape)({ ...etaOpts });
  // The events generator joins when the ETA warm-up ends (its own process); the generator takes ~1 s to start.
  const eventsRun: Promise<LoadResult> = sleep(cfg.warmupSec * 1000).then(() => runLoad(eventsOpts));
  const timer = setTimeout(
    () => (promoting = promote().catch((e: unknown) => void errors.push(`promote: ${(e as Error).message}`))),
    (1 + cfg.warmupSec + durationSec / 2) * 1000,
  );
  const [eta, events] = await Promise.all([etaRun, eventsRun]);
  clearTimeout(timer);
  await promoting;
  // Seconds into the ETA run's measured window, the timeline's clock.
  const windowStart = Date.parse(eta.startedAt) + cfg.warmupSec * 1000;
  const sec = (t: number | undefined): number | undefined =>
    t === undefined ? undefined : Math.round((t - windowStart) / 100) / 10;
  const promotedAtSec = sec(promotedAt);
  const swappedAtSec = sec(swappedAt);
  // The ingest acknowledges only durable writes, so the counter is final once the answers are in.
  const counter = async (result: string): Promise<number> =>
    scrapeCounter(shape.urls, 'etaserve_events_ingested_total', `result="${result}"`);
  const accepted = (await counter('accepted')) - acceptedBefore;
  const duplicates = (await counter('duplicate')) - dupBefore;
  // Every 2xx answer acknowledged `eventsPerRequest` events (fresh ids, valid bodies: none rejected).
  const sent = events.ok * m.eventsPerRequest;
  log(`  eta: ${brief(eta)}`);
  log(
    `  events: achieved ${events.achievedRate} req/s (${events.itemsPerSec} events/s), p99 ${events.latency.p99} ms, non-2xx ${events.non2xx}, timeouts ${events.timeouts}`,
  );
  const p99 = p99AroundSwap(eta.timeline, promotedAtSec, swappedAtSec);
  return {
    newVersion,
    promotedAtSec,
    swappedAtSec,
    promoteMs,
    eta: summarize(eta, true),
    events: summarize({ ...events, usage: {}, machine: { busyCores: 0, othersCores: 0 } }),
    p99,
    eventsCheck: { sent, accepted, duplicates, lost: Math.max(0, sent - accepted) },
    errors,
  };
}
