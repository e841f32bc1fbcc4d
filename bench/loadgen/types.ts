/**
 * Types shared by the parent (`runLoad`) and the generator process (`worker.ts`). Plain data only: everything here
 * crosses the IPC channel as JSON.
 */

/** Where request bodies come from. Relative paths resolve against the caller's working directory. */
export type SourceSpec =
  | {
      kind: 'jsonl';
      /** One request body per line, cycled in order. */
      file: string;
      /** Count items (rows) per request as the length of this array field of each line, e.g. `orders`. */
      itemsField?: string;
    }
  | {
      kind: 'module';
      /** A module exporting `createSource(options): RequestSource | Promise<RequestSource>`. */
      module: string;
      options?: Record<string, unknown>;
    };

export interface LoadOptions {
  /** Origin of the server, e.g. `http://127.0.0.1:8001` (a path here is ignored: use `path`). */
  url: string;
  /**
   * Several origins (replicas behind no balancer, e.g. two gateways): request i goes to `urls[i mod n]`, each origin
   * with its own pool of `connections`. Replaces `url` as the target when set; `url` names the run.
   */
  urls?: string[];
  /** Default path; a source may override it per request. Default `/`. */
  path?: string;
  /** Default method; a source may override it per request. Default POST when there is a source, else GET. */
  method?: string;
  /** Headers on every request (an auth header goes here). `content-type: application/json` is added for bodies. */
  headers?: Record<string, string>;
  /** Requests per second, scheduled at t0 + i / rate whatever the server does (open loop). */
  rate: number;
  /** Length of the measured window, seconds. */
  durationSec: number;
  /** Same rate before the measured window, not recorded. Default 0. */
  warmupSec?: number;
  /** Keep-alive connections in the pool (per origin with `urls`). Default 64. */
  connections?: number;
  /** A request without a full response this long after its INTENDED send time is a timeout. Default 2000. */
  timeoutMs?: number;
  source?: SourceSpec;
  /** Items (rows) per request when the source does not say, for rows/s. Default 1. */
  itemsPerRequest?: number;
  /** Per-second timeline of the measured window. Default true. */
  timeline?: boolean;
  /** Free text carried into the result. */
  label?: string;
}

/** Latencies in milliseconds (recorded in microseconds, 3 significant digits). */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  stdev: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** One second of the measured window, by intended send time. */
export interface TimelinePoint {
  /** Seconds since the start of the measured window. */
  second: number;
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Corrected latency of the 2xx answers scheduled in this second, ms (0 when none). */
  p50: number;
  p99: number;
  max: number;
}

export interface GeneratorUsage {
  pid: number;
  /** CPU the generator process used during the measured window. */
  cpuMs: number;
  cpuMsPerRequest: number;
  /** Share of one core over the measured window, percent. */
  cpuPercent: number;
  maxRssMb: number;
}

/** One origin's share of a run with several (`LoadOptions.urls`). */
export interface TargetResult {
  url: string;
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Corrected latency of this origin's 2xx answers. */
  latency: LatencySummary;
}

export interface LoadResult {
  label?: string;
  startedAt: string;
  url: string;
  /** Per origin, when the run had several (`LoadOptions.urls`), in their order. */
  targets?: TargetResult[];
  path: string;
  method: string;
  targetRate: number;
  durationSec: number;
  warmupSec: number;
  connections: number;
  timeoutMs: number;
  /** Requests whose intended send time fell in the measured window (= rate x duration). */
  scheduled: number;
  /** Of those, handed to the HTTP client (all of them unless the run was cut short). */
  sent: number;
  /** 2xx answers. */
  ok: number;
  /** Answers with any other status: counted apart, not in `latency`. */
  non2xx: number;
  /** Connection and transport failures (refused, reset, closed), by code in `errorCodes`. */
  errors: number;
  /** No full answer within `timeoutMs` of the intended send time. */
  timeouts: number;
  statusCounts: Record<string, number>;
  errorCodes: Record<string, number>;
  /** 2xx per second: ok / (last completion - window start). Below `targetRate` when the server falls behind. */
  achievedRate: number;
  /** Rows per second of 2xx answers (items per request x achievedRate). */
  itemsPerSec: number;
  items: number;
  /** 2xx latency from the INTENDED send time (coordinated omission corrected, like wrk2). */
  latency: LatencySummary;
  /** 2xx latency from the moment the request was written on a socket: what a closed-loop tool would report. */
  uncorrected: LatencySummary;
  /** How late the generator handed requests to the client, vs the schedule: its own health. */
  sendLag: LatencySummary;
  /** The corrected histogram, hdr-histogram-js compressed base64 (microseconds), for merging. */
  histogram: string;
  timeline: TimelinePoint[];
  generator: GeneratorUsage;
}

/** One request a source yields. Fields left out take the run's defaults. */
export interface LoadRequest {
  body?: string | Uint8Array;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  /** Rows in this request (a batch of 50 is 50). Default: the run's `itemsPerRequest`. */
  items?: number;
}

export interface RequestSource {
  /** Called once per scheduled request, in order. Must be cheap: pre-build bodies at creation. */
  next(): LoadRequest;
}

export type SourceFactory = (options: Record<string, unknown>) => RequestSource | Promise<RequestSource>;

/** Messages from the generator process to the parent. */
export type WorkerMessage =
  | { type: 'measure-start' }
  | { type: 'measure-end' }
  | { type: 'result'; result: LoadResult }
  | { type: 'error'; message: string };
