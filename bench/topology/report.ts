/** The topology benchmark's result and its Markdown summary. */
import type { LagSample } from './lake-lag.js';

export interface TopologyReport {
  benchmark: 'topology';
  date: string;
  quick: boolean;
  machine: Record<string, unknown>;
  loadavgBefore: number[];
  loadavgAfter: number[];
  wallMin: number;
  image: { rebuilt: boolean; seconds: number };
  shape: Record<string, unknown>;
  ingest: {
    eventsPerRequest: number;
    stepSec: number;
    sloP99Ms: number;
    steps: Array<{
      targetEventsPerSec: number;
      acceptedEventsPerSec: number;
      requests: number;
      ok: number;
      non2xx: number;
      errors: number;
      timeouts: number;
      latency: { p50: number; p90: number; p99: number; max: number };
      gateways: Array<{ ok: number; p50: number; p99: number }>;
      pass: boolean;
      cpuPercent: Record<string, number>;
      othersCores: number;
      busyCores: number;
      sendLagP99: number;
    }>;
  };
  lake: {
    /** False when the pipeline neither exports the gauge nor keeps a `lake` group: no lake writer to measure. */
    measured: boolean;
    steps: Array<{
      targetEventsPerSec: number;
      samples: number;
      metricLagSec: { median: number | null; max: number | null };
      positionLagMs: { median: number | null; max: number | null };
      behindMax: number | null;
    }>;
    catchUp: {
      eventsInLog: number;
      lastId: string;
      lakeEvents?: number;
      /** Seconds after the end of ingest until the `lake` group's position reached the log's last entry. */
      positionSec?: number;
      /** ... until the pipeline's gauge said nothing is behind. */
      metricZeroSec?: number;
      /** ... until DuckDB counted every event of the log in the lake's Parquet files. */
      lakeCountSec?: number;
    };
    samples: LagSample[];
  };
  training: {
    days: number;
    ordersPerDay: number;
    lake: {
      events: number;
      orders: number;
      files: number;
      mb: number;
      fillSec: number;
      fillPeakRssMb: number;
    };
    orders: number;
    rows: number;
    wallSec: number;
    /** The last timestamp the training process logged itself (its own clock, without podman exec). */
    reportedSec: number;
    peakRssMb: number | null;
    stages: Array<{ stage: string; sec: number }>;
    version: string;
    promoted: boolean;
    maeMin: number | null;
    reference:
      | {
          file: string;
          cases: Array<{
            source: string;
            orders: number;
            wallSec: number;
            peakRssMb: number;
            afterCompactionSec?: number;
          }>;
        }
      | undefined;
  };
  promotions: Array<{
    version: string;
    via: string;
    /** From the registry's alias move until the last predictor answered with the version; null: never. */
    fromAliasMoveMs: number | null;
    perPredictorMs: Record<string, number>;
    requestMs?: number;
    fromAnswerMs?: number | null;
  }>;
}

const noisy = (s: TopologyReport['ingest']['steps'][number]): boolean =>
  s.othersCores > 0.5 || s.sendLagP99 > 20;
const fmt = (v: number | null | undefined, unit = ''): string =>
  v === null || v === undefined ? '-' : `${v}${unit}`;
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}x` : '-');

export function markdown(r: TopologyReport): string {
  const m = r.machine;
  const out: string[] = [
    `# Topology: the production shape in containers${r.quick ? ' (quick)' : ''}`,
    '',
    `Measured ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${String(m.cpus)} x ${String(m.cpuModel)}, ${String(m.totalMemMb)} MB, ` +
      `Node ${String(m.node)}, ${String(m.platform)}; load average before ${r.loadavgBefore.join(', ')}, after ` +
      `${r.loadavgAfter.join(', ')}; ${r.wallMin} min in all. ${r.shape.gateways} gateways, ${r.shape.predictors} predictors ` +
      '(one name, two loopback addresses), store, geo and pipeline as podman containers of etaserve:dev (read-only root, ' +
      'host network); the events Redis (AOF, `appendfsync always`, noeviction), the cache Redis and PostgreSQL as ' +
      'processes on the same machine. Everything shares the 2 cores: the figures are those of the whole shape on one ' +
      'small machine, not of one service.',
    '',
    '## 1. Ingest through two gateways into Redis Streams',
    '',
    `Open loop (bench/loadgen), ${r.ingest.eventsPerRequest} events a request, requests alternating the two gateways, ` +
      `${r.ingest.stepSec} s per rate after 2 s of warm-up; acknowledgement latency from the intended send time ` +
      `(coordinated omission corrected). Pass: no error, p99 < ${r.ingest.sloP99Ms} ms, achieved >= 97%.`,
    '',
    '| target events/s | accepted events/s | ack p50 ms | p99 ms | max ms | non-2xx / errors / timeouts | gateway 1 / 2 p99 ms | pass | busy cores (others) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.ingest.steps.map(
      (s) =>
        `| ${s.targetEventsPerSec} | ${s.acceptedEventsPerSec} | ${s.latency.p50} | ${s.latency.p99} | ${s.latency.max} | ` +
        `${s.non2xx} / ${s.errors} / ${s.timeouts} | ${s.gateways.map((g) => g.p99).join(' / ')} | ${s.pass ? 'yes' : '**no**'} | ` +
        `${s.busyCores} (${s.othersCores}${noisy(s) ? ' †' : ''}) |`,
    ),
    '',
  ];
  if (r.ingest.steps.some(noisy))
    out.push(
      '† Other work on the machine used more than half a core during the step (or the generator sent late, send-lag ' +
        'p99 over 20 ms): that step measures the contention as much as the shape.',
      '',
    );
  const best = [...r.ingest.steps].reverse().find((s) => s.pass);
  out.push(
    best
      ? `Highest passing step: **${best.acceptedEventsPerSec} events/s**, ack p99 ${best.latency.p99} ms.`
      : 'No step passed.',
    '',
    'CPU by process during each step (% of one core):',
    '',
    `| target events/s | ${Object.keys(r.ingest.steps[0]?.cpuPercent ?? {}).join(' | ')} |`,
    `|---|${Object.keys(r.ingest.steps[0]?.cpuPercent ?? {})
      .map(() => '---')
      .join('|')}|`,
    ...r.ingest.steps.map((s) => `| ${s.targetEventsPerSec} | ${Object.values(s.cpuPercent).join(' | ')} |`),
    '',
    '## 2. How far the lake lags behind the log',
    '',
  );
  const c = r.lake.catchUp;
  if (!r.lake.measured) {
    out.push(
      '**Not measured**: the pipeline exported no `etaserve_lake_lag_seconds` and kept no `lake` group.',
      '',
    );
  } else {
    out.push(
      "Sampled every 500 ms: the pipeline's gauge `etaserve_lake_lag_seconds` (age of the oldest log entry the lake " +
        "lacks, from the writer's position after its last round) and the same age from Redis alone: the first stream " +
        "entry past the `lake` consumer group's last-delivered id, which the writer moves after every Parquet batch. " +
        `The lake writer runs a round every ${String(r.shape.lakeWriteIntervalMs)} ms.`,
      '',
      '| during target events/s | samples | gauge median s | gauge max s | group lag median ms | group lag max ms |',
      '|---|---|---|---|---|---|',
      ...r.lake.steps.map(
        (s) =>
          `| ${s.targetEventsPerSec} | ${s.samples} | ${fmt(s.metricLagSec.median)} | ${fmt(s.metricLagSec.max)} | ` +
          `${fmt(s.positionLagMs.median)} | ${fmt(s.positionLagMs.max)} |`,
      ),
      '',
      ...(r.lake.steps.some(
        (s) =>
          (s.metricLagSec.max ?? 0) * 1000 > (s.positionLagMs.max ?? 0) + 2000 &&
          s.positionLagMs.max !== null,
      )
        ? [
            'The gauge takes the position the writer had at the end of its previous round; a round under load runs ' +
              'several batches back to back, so the gauge kept rising while the group (moved after every batch) ' +
              "showed the lake keeping up. The group column is the lake's lag.",
            '',
          ]
        : []),
      `After the last request was answered (${c.eventsInLog} events in the log): the \`lake\` group reached the log's ` +
        `last entry in **${fmt(c.positionSec, ' s')}**, the gauge said nothing behind in ${fmt(c.metricZeroSec, ' s')}, ` +
        `and DuckDB counted every event in the lake's Parquet in **${fmt(c.lakeCountSec, ' s')}** ` +
        `(${fmt(c.lakeEvents)} distinct event ids; polls about 1 s apart).`,
      '',
    );
  }
  const tr = r.training;
  out.push(
    '## 3. Training from the lake in the pipeline container',
    '',
    `The lake volume filled from the host with ${tr.days} days of the bench:train city (300 stores, ${tr.ordersPerDay} ` +
      `orders a day): ${tr.lake.orders} orders, ${tr.lake.events} events in ${tr.lake.files} Parquet files ` +
      `(${tr.lake.mb} MB), written in ${tr.lake.fillSec} s by two processes (historyApiEvents, flattenEvent, writeEventsToLake: the rows the lake writer makes of the log). Then \`etaserve train --lake --from --to --json\` ` +
      "exec'd in the pipeline container; peak RSS is the training process's own `maxRSS` (the kernel's high-water " +
      'mark, `peak_rss_mb` in its JSON).',
    '',
    '| run | orders | wall s | peak RSS MB |',
    '|---|---|---|---|',
    `| container, \`train --lake\` | ${tr.orders} | ${tr.wallSec} | ${fmt(tr.peakRssMb)} |`,
  );
  for (const ref of tr.reference?.cases ?? []) {
    out.push(
      `| bench:train ${ref.source} (no container) | ${ref.orders} | ${ref.wallSec}${ref.afterCompactionSec !== undefined ? ` (${ref.afterCompactionSec} after compaction)` : ''} | ${ref.peakRssMb} |`,
    );
  }
  out.push('');
  const log = tr.reference?.cases.find((x) => x.source === 'log');
  if (log && tr.peakRssMb !== null)
    out.push(
      `Against bench:train's log case from its lake onwards (${tr.reference!.file}, the same city and training, ` +
        `outside containers, another day's machine load): wall ${ratio(tr.wallSec, log.afterCompactionSec ?? log.wallSec)}, ` +
        `peak RSS ${ratio(tr.peakRssMb, log.peakRssMb)}. ${tr.rows} rows, MAE ${fmt(tr.maeMin, ' min')}; ${tr.version} ` +
        `${tr.promoted ? 'promoted' : 'not promoted'}.`,
      '',
    );
  out.push(
    "By stage (seconds, from the training process's own log):",
    '',
    '| stage | s |',
    '|---|---|',
    ...tr.stages.map((s) => `| ${s.stage} | ${s.sec} |`),
    '',
    '## 4. Promotion to serving',
    '',
    `Every predictor's \`GET /v2/models/eta\` polled every 50 ms; time from the champion alias's move in the registry ` +
      `(PostgreSQL \`model_aliases.updated_at\`) until the last predictor answered with the version. Predictors poll ` +
      `the aliases every ${String(r.shape.aliasPollMs)} ms, then load, validate and warm the model before the swap.`,
    '',
    '| # | version | via | all predictors serving, ms after the alias moved | per predictor ms | API answer ms | after the answer ms |',
    '|---|---|---|---|---|---|---|',
    ...r.promotions.map(
      (p, i) =>
        `| ${i + 1} | ${p.version} | ${p.via} | ${fmt(p.fromAliasMoveMs)} | ${Object.values(p.perPredictorMs).join(' / ')} | ` +
        `${fmt(p.requestMs)} | ${fmt(p.fromAnswerMs)} |`,
    ),
    '',
  );
  const times = r.promotions.map((p) => p.fromAliasMoveMs).filter((x): x is number => x !== null);
  if (times.length)
    out.push(
      `Max **${Math.max(...times)} ms** over ${times.length} promotions (median ${[...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]} ms).`,
      '',
    );
  if (r.ingest.steps.some((s) => s.othersCores > 0.3) || (r.loadavgBefore[0] ?? 0) > 2)
    out.push(
      '**A shared machine**: other work ran meanwhile (see the `others` cores and the load average); latencies and ' +
        'wall times are longer than on a quiet machine, memory figures are not affected.',
    );
  return out.join('\n');
}
