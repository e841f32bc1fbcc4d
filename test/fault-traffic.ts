import { DEMO_KEY } from './support/processes.js';
import { parisEvening } from './support/times.js';

/**
 * Steady client traffic for the fault tests: a few concurrent loops of `POST /v1/eta`, counting what a client saw.
 * A failure is anything but a 200 with an ETA (a 5xx, a 4xx, a connection error); `degraded` 200s are counted apart.
 */
/** Tonight (or tomorrow night) in Paris, when the simulated city's stores are open. */
export const ORDERED_AT = parisEvening();
export const NEAR = { lat: 48.864, lng: 2.352 };
export const STORES = ['s-0001', 's-0002', 's-0003'];

export interface Seen {
  ok: number;
  degraded: number;
  failed: number;
  failures: string[];
}

export interface Traffic {
  /** Counts since the start, or since the last `mark`. */
  seen(): Seen;
  /** Starts a new count (for "after the fault" checks). */
  mark(): void;
  stop(): Promise<Seen>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function steadyTraffic(
  url: string,
  options: { concurrency?: number; pauseMs?: number } = {},
): Traffic {
  let running = true;
  let i = 0;
  let counts: Seen = { ok: 0, degraded: 0, failed: 0, failures: [] };
  const one = async (): Promise<void> => {
    const n = i++;
    // Destinations spread over a few hundred metres, so the answers are not all one cache key.
    const destination = { lat: NEAR.lat + ((n % 17) - 8) * 0.0004, lng: NEAR.lng + ((n % 13) - 6) * 0.0004 };
    const body = {
      store_id: STORES[n % STORES.length],
      destination,
      items: 1 + (n % 5),
      ordered_at: ORDERED_AT,
    };
    try {
      const res = await fetch(`${url}/v1/eta`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_KEY}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      const json = text.startsWith('{')
        ? (JSON.parse(text) as { degraded?: boolean; eta_seconds?: number })
        : {};
      if (res.status === 200 && typeof json.eta_seconds === 'number') {
        counts.ok++;
        if (json.degraded) counts.degraded++;
      } else {
        counts.failed++;
        if (counts.failures.length < 10) counts.failures.push(`${res.status} ${text.slice(0, 200)}`);
      }
    } catch (e) {
      counts.failed++;
      if (counts.failures.length < 10) counts.failures.push(String(e));
    }
  };
  const loops = Array.from({ length: options.concurrency ?? 4 }, async () => {
    while (running) {
      await one();
      await sleep(options.pauseMs ?? 10);
    }
  });
  return {
    seen: () => ({ ...counts, failures: [...counts.failures] }),
    mark: () => {
      counts = { ok: 0, degraded: 0, failed: 0, failures: [] };
    },
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { ...counts, failures: [...counts.failures] };
    },
  };
}

/** Until the cluster answers with real predictions (a cold cluster on a busy machine may take a moment). */
export async function warmedUp(traffic: Traffic, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const seen = traffic.seen();
    if (seen.ok - seen.degraded >= 30) return;
    await sleep(100);
  }
  throw new Error(`no real predictions within ${timeoutMs} ms: ${JSON.stringify(traffic.seen())}`);
}

/** Waits while traffic runs, so the fault happens under load. */
export async function during(ms: number): Promise<void> {
  await sleep(ms);
}

/** The value of a metric sample in Prometheus text, summed over the series matching every label given. */
export async function metricSum(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The URL `etaserve up` printed for a child (`store`, `predictor-1`, ...). */
export function childUrl(output: string, name: string): string {
  const m = new RegExp(`^\\s+${name}\\s+(http://\\S+)\\s+\\(pid \\d+\\)$`, 'm').exec(output);
  if (!m) throw new Error(`no ${name} in the output of etaserve up`);
  return m[1]!;
}

export function kill9(pid: number | undefined): void {
  if (pid === undefined) throw new Error('no such child');
  process.kill(pid, 'SIGKILL');
}
