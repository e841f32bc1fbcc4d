/**
 * The event log alone, in process, without HTTP: concurrent appenders (closed loop, each appends its next batch as
 * soon as the previous one is acknowledged) for a fixed time. Says what the log sustains and what a durable append
 * costs, apart from request parsing and validation.
 */
import { performance } from 'node:perf_hooks';
import type { EtaEvent, EventLog } from '../../src/events/index.js';

export interface DirectResult {
  backend: string;
  eventsPerAppend: number;
  appenders: number;
  durationSec: number;
  eventsPerSec: number;
  appendsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

function event(run: string, n: number): EtaEvent {
  return {
    event_id: `${run}-${n}`,
    type: 'rider.location',
    occurred_at: new Date().toISOString(),
    rider_id: `r-${n % 800}`,
    lat: 48.8566 + (n % 100) / 10_000,
    lng: 2.3522,
    available: true,
  };
}

const pct = (sorted: number[], p: number): number =>
  Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0) * 1000) / 1000;

export async function measureDirect(
  log: EventLog,
  backend: string,
  eventsPerAppend: number,
  appenders: number,
  durationSec: number,
): Promise<DirectResult> {
  const run = `direct-${backend}-${eventsPerAppend}-${Date.now()}`;
  const latencies: number[] = [];
  let next = 0;
  const end = performance.now() + durationSec * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const batch = Array.from({ length: eventsPerAppend }, () => event(run, next++));
      const t = performance.now();
      await log.append(batch);
      latencies.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: appenders }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    backend,
    eventsPerAppend,
    appenders,
    durationSec: Math.round(elapsed * 10) / 10,
    eventsPerSec: Math.round((latencies.length * eventsPerAppend) / elapsed),
    appendsPerSec: Math.round(latencies.length / elapsed),
    latencyMs: {
      p50: pct(latencies, 0.5),
      p90: pct(latencies, 0.9),
      p99: pct(latencies, 0.99),
      max: pct(latencies, 1),
    },
  };
}
