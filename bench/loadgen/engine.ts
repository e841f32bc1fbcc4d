import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, encodeHistogram, recordMs, summarize } from './histogram.js';
import type { LoadOptions, LoadResult, RequestSource, TargetResult, TimelinePoint } from './types.js';

/**
 * The open-loop engine. Request i is due at t0 + i / rate whatever the server does; its latency is measured from
 * that intended time, so a server stall is charged to every request scheduled during it (coordinated omission
 * corrected, as wrk2 does). Runs inside the generator process (`worker.ts`); `runLoad` is the public entry.
 */
export interface EngineHooks {
  /** The first request of the measured window is about to be sent. */
  onMeasureStart?(): void;
  /** Every request of the measured window has finished (answered, failed or timed out). */
  onMeasureEnd?(): void;
}

interface Bucket {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  hist: Histogram | undefined;
}

const DEFAULTS = { connections: 64, timeoutMs: 2000, warmupSec: 0, path: '/' } as const;

class TimeoutAbort extends Error {
  constructor() {
    super('load generator timeout');
    this.name = 'TimeoutAbort';
  }
}

export async function runOpenLoop(
  opts: LoadOptions,
  source: RequestSource,
  hooks: EngineHooks = {},
): Promise<LoadResult> {
  if (!(opts.rate > 0)) throw new Error(`rate must be > 0, got ${opts.rate}`);
  if (!(opts.durationSec > 0)) throw new Error(`durationSec must be > 0, got ${opts.durationSec}`);
  const origin = new URL(opts.url).origin;
  const origins = opts.urls?.length ? opts.urls.map((u) => new URL(u).origin) : [origin];
  const connections = opts.connections ?? DEFAULTS.connections;
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const warmupSec = opts.warmupSec ?? DEFAULTS.warmupSec;
  const defaultPath = opts.path ?? DEFAULTS.path;
  const defaultMethod = opts.method ?? (opts.source ? 'POST' : 'GET');
  const defaultItems = opts.itemsPerRequest ?? 1;
  const withTimeline = opts.timeline ?? true;

  const interval = 1000 / opts.rate;
  const warmupCount = Math.round(opts.rate * warmupSec);
  const measuredCount = Math.round(opts.rate * opts.durationSec);
  const total = warmupCount + measuredCount;

  const headersNoBody: Record<string, string> = { ...opts.headers };
  const headersWithBody: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };

  const pools = origins.map(
    (o) =>
      new Pool(o, {
        connections,
        pipelining: 1,
        // Close idle connections before the server does (uvicorn and node:http drop them after 5 s): a request
        // written on a connection the server is closing fails with ECONNRESET, an artefact, not the server's fault.
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 4_000,
        // Our own timeout (from the intended send time) is the one that counts; these are a backstop.
        headersTimeout: timeoutMs + 10_000,
        bodyTimeout: timeoutMs + 10_000,
        connect: { timeout: Math.max(1000, timeoutMs) },
      }),
  );

  const latency = createHistogram();
  const uncorrected = createHistogram();
  const sendLag = createHistogram();
  const seconds = Math.ceil(opts.durationSec);
  const buckets: Bucket[] = Array.from({ length: withTimeline ? seconds : 0 }, () => ({
    sent: 0,
    ok: 0,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    hist: undefined,
  }));
  // Per origin, measured window only (reported when there are several).
  const perTarget = origins.map((url) => ({
    url,
    sent: 0,
    ok: 0,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    hist: createHistogram(),
  }));
  const statusCounts: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let items = 0;
  let lastCompletion = 0;

  const t0 = performance.now() + 20; // a moment to arm the first timer
  const measureStartAt = t0 + warmupCount * interval;
  let next = 0;
  let outstanding = 0;
  let measuredDone = 0;
  const queue: Request[] = [];
  let qHead = 0;
  let zombies: Request[] = [];
  let cpuAtStart = process.cpuUsage();
  let wallAtStart = measureStartAt;
  let cpuUsedUs = 0;
  let wallMs = 0;
  let measureEnded = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const bucketOf = (r: Request): Bucket | undefined =>
    withTimeline
      ? buckets[Math.min(seconds - 1, Math.max(0, Math.floor((r.intended - measureStartAt) / 1000)))]
      : undefined;

  function endMeasure(): void {
    if (measureEnded) return;
    measureEnded = true;
    const cpu = process.cpuUsage(cpuAtStart);
    cpuUsedUs = cpu.user + cpu.system;
    wallMs = performance.now() - wallAtStart;
    hooks.onMeasureEnd?.();
  }

  function finish(r: Request): void {
    r.finished = true;
    outstanding--;
    if (r.measured && ++measuredDone === measuredCount) endMeasure();
    if (next >= total && outstanding === 0) resolveDone();
  }

  class Request implements Dispatcher.DispatchHandler {
    /** Counted: answered, failed or timed out. */
    finished = false;
    /** The HTTP exchange itself is over (may come after a timeout). */
    settled = false;
    timedOut = false;
    status = 0;
    writtenAt = 0;
    controller: Dispatcher.DispatchController | undefined;
    constructor(
      readonly intended: number,
      readonly measured: boolean,
      readonly items: number,
      readonly target: number,
    ) {}

    onRequestStart(controller: Dispatcher.DispatchController): void {
      if (this.finished) {
        // Timed out while queued in the pool: do not bother the server with it.
        controller.abort(new TimeoutAbort());
        return;
      }
      this.controller = controller;
      this.writtenAt = performance.now();
    }

    onResponseStart(_c: Dispatcher.DispatchController, statusCode: number): void {
      this.status = statusCode;
    }

    onResponseData(): void {
      // discard the body
    }

    onResponseEnd(): void {
      this.settled = true;
      if (this.finished) return;
      const now = performance.now();
      if (this.measured) {
        const b = bucketOf(this);
        if (this.status >= 200 && this.status < 300) {
          ok++;
          items += this.items;
          lastCompletion = now;
          recordMs(latency, now - this.intended);
          recordMs(uncorrected, now - this.writtenAt);
          const t = perTarget[this.target]!;
          t.ok++;
          recordMs(t.hist, now - this.intended);
          if (b) {
            b.ok++;
            recordMs((b.hist ??= createHistogram()), now - this.intended);
          }
        } else {
          non2xx++;
          perTarget[this.target]!.non2xx++;
          statusCounts[this.status] = (statusCounts[this.status] ?? 0) + 1;
          if (b) b.non2xx++;
        }
      }
      finish(this);
      pump();
    }

    onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
      this.settled = true;
      if (this.finished) return;
      if (this.measured) {
        errors++;
        perTarget[this.target]!.errors++;
        const code = (err as { code?: string }).code ?? err.name;
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
        const b = bucketOf(this);
        if (b) b.errors++;
      }
      finish(this);
      pump();
    }
  }

  function timeOut(r: Request): void {
    r.timedOut = true;
    if (r.measured) {
      timeouts++;
      perTarget[r.target]!.timeouts++;
      const b = bucketOf(r);
      if (b) b.timeouts++;
    }
    finish(r);
    // Not yet written: it never reaches the server (onRequestStart aborts it). Already written: let it finish on
    // its keep-alive connection rather than reset the connection (reconnect churn would load the server under
    // overload); a request still hanging at twice the timeout is aborted to free its connection.
    if (r.controller) zombies.push(r);
  }

  function sweep(): void {
    const now = performance.now();
    while (qHead < queue.length) {
      const r = queue[qHead]!;
      if (!r.finished) {
        if (r.intended + timeoutMs > now) break;
        timeOut(r);
      }
      qHead++;
    }
    if (zombies.length > 0) {
      zombies = zombies.filter((z) => {
        if (z.settled) return false;
        if (z.intended + 2 * timeoutMs > now) return true;
        z.controller?.abort(new TimeoutAbort());
        return false;
      });
    }
    if (qHead > 4096 && qHead * 2 > queue.length) {
      queue.splice(0, qHead);
      qHead = 0;
    }
  }

  function fire(i: number, intended: number): void {
    const measured = i >= warmupCount;
    if (i === warmupCount) {
      hooks.onMeasureStart?.();
      cpuAtStart = process.cpuUsage();
      wallAtStart = performance.now();
    }
    const req = source.next();
    const target = i % origins.length;
    const r = new Request(intended, measured, req.items ?? defaultItems, target);
    queue.push(r);
    outstanding++;
    const now = performance.now();
    if (measured) {
      sent++;
      perTarget[target]!.sent++;
      recordMs(sendLag, now - intended);
      const b = bucketOf(r);
      if (b) b.sent++;
    }
    const base = req.body === undefined ? headersNoBody : headersWithBody;
    try {
      pools[target]!.dispatch(
        {
          path: req.path ?? defaultPath,
          method: (req.method ?? defaultMethod) as Dispatcher.HttpMethod,
          headers: req.headers ? { ...base, ...req.headers } : base,
          body: req.body ?? null,
        },
        r,
      );
    } catch (err) {
      r.onResponseError(undefined as unknown as Dispatcher.DispatchController, err as Error);
    }
  }

  let pumping = false;
  let timer: NodeJS.Timeout | undefined;
  function pump(): void {
    if (pumping) return;
    pumping = true;
    try {
      while (next < total) {
        const intended = t0 + next * interval;
        if (intended > performance.now()) break;
        fire(next, intended);
        next++;
      }
    } finally {
      pumping = false;
    }
    if (next < total && timer === undefined) {
      timer = setTimeout(onTimer, Math.max(0, t0 + next * interval - performance.now()));
    }
  }
  function onTimer(): void {
    timer = undefined;
    pump();
  }

  const sweeper = setInterval(sweep, Math.min(50, Math.max(5, Math.floor(timeoutMs / 10))));
  const startedAt = new Date().toISOString();
  if (measuredCount === 0) endMeasure();
  timer = setTimeout(onTimer, Math.max(0, t0 - performance.now()));
  try {
    await done;
  } finally {
    clearInterval(sweeper);
    if (timer) clearTimeout(timer);
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
  endMeasure();

  const windowMs = Math.max(opts.durationSec * 1000, lastCompletion - measureStartAt);
  const timeline: TimelinePoint[] = buckets.map((b, second) => {
    const s = b.hist ? summarize(b.hist) : undefined;
    return {
      second,
      sent: b.sent,
      ok: b.ok,
      non2xx: b.non2xx,
      errors: b.errors,
      timeouts: b.timeouts,
      p50: s?.p50 ?? 0,
      p99: s?.p99 ?? 0,
      max: s?.max ?? 0,
    };
  });
  const cpuMs = cpuUsedUs / 1000;
  const targets: TargetResult[] = perTarget.map(({ hist, ...t }) => ({ ...t, latency: summarize(hist) }));
  return {
    ...(opts.label === undefined ? {} : { label: opts.label }),
    startedAt,
    url: origin,
    ...(origins.length > 1 ? { targets } : {}),
    path: defaultPath,
    method: defaultMethod,
    targetRate: opts.rate,
    durationSec: opts.durationSec,
    warmupSec,
    connections,
    timeoutMs,
    scheduled: measuredCount,
    sent,
    ok,
    non2xx,
    errors,
    timeouts,
    statusCounts,
    errorCodes,
    achievedRate: round((ok * 1000) / windowMs, 1),
    itemsPerSec: round((items * 1000) / windowMs, 1),
    items,
    latency: summarize(latency),
    uncorrected: summarize(uncorrected),
    sendLag: summarize(sendLag),
    histogram: encodeHistogram(latency),
    timeline,
    generator: {
      pid: process.pid,
      cpuMs: round(cpuMs, 1),
      cpuMsPerRequest: sent > 0 ? round(cpuMs / sent, 4) : 0,
      cpuPercent: wallMs > 0 ? round((cpuMs / wallMs) * 100, 1) : 0,
      maxRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
    },
  };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
