/**
 * A cached value with its own clock: fresh until `freshUntil`, servable while one refresh runs until `staleUntil`,
 * then gone. `loadMs` is how long the value took to load, which XFetch uses to decide how early to refresh.
 * The same fields travel through L2, so a replica that reads a value another one loaded keeps its schedule.
 */
export interface Entry<V> {
  value: V;
  freshUntil: number;
  staleUntil: number;
  loadMs: number;
  /** What the L1 byte bound counts for the entry: the decoded value's heap, estimated from its encoded size. */
  bytes: number;
}

/** An entry's clock, which travels with the value through L2. */
export type EntryClock = Pick<Entry<unknown>, 'freshUntil' | 'staleUntil' | 'loadMs'>;

export type Freshness = 'fresh' | 'refresh-early' | 'stale' | 'expired';

export interface RefreshPolicy {
  /** Stale-while-revalidate window as a fraction of the TTL. */
  graceRatio: number;
  /** XFetch beta; 0 turns probabilistic early refresh off. */
  xfetchBeta: number;
}

export function timesFor(
  now: number,
  ttlMs: number,
  policy: RefreshPolicy,
): { freshUntil: number; staleUntil: number } {
  const freshUntil = now + ttlMs;
  return { freshUntil, staleUntil: freshUntil + Math.round(ttlMs * policy.graceRatio) };
}

/**
 * XFetch (Vattani et al., "Optimal probabilistic cache stampede prevention"): refresh early with a probability that
 * rises as expiry nears, sooner for values that are slow to load. `-ln(random)` is exponentially distributed, so
 * among many readers of a hot key one starts the refresh a little before expiry and the rest keep hitting.
 */
export function freshness(
  entry: EntryClock,
  now: number,
  xfetchBeta: number,
  random: () => number = Math.random,
): Freshness {
  if (now >= entry.staleUntil) return 'expired';
  if (now >= entry.freshUntil) return 'stale';
  if (xfetchBeta > 0 && entry.loadMs > 0) {
    const early = entry.loadMs * xfetchBeta * -Math.log(1 - random());
    if (now + early >= entry.freshUntil) return 'refresh-early';
  }
  return 'fresh';
}

/**
 * The heap a decoded value holds, per character of its encoding: measured for the values cached here (an ETA
 * answer, a store profile with shared opening hours, travel terms) at 1.2-2x their JSON length, so the L1 bound
 * counts what it really holds rather than the shorter encoded string.
 */
const HEAP_BYTES_PER_ENCODED_CHAR = 2;

export function heapBytesOf(payload: string): number {
  return HEAP_BYTES_PER_ENCODED_CHAR * payload.length;
}

// Envelope of an L2 value: "1|freshUntil|staleUntil|loadMs|payload". A version digit lets the format change.
const VERSION = '1';

export function encodeEnvelope(clock: EntryClock, payload: string): string {
  return `${VERSION}|${clock.freshUntil}|${clock.staleUntil}|${Math.round(clock.loadMs)}|${payload}`;
}

/** undefined for anything this version does not understand; the caller treats it as a miss. */
export function decodeEnvelope(text: string): (EntryClock & { payload: string }) | undefined {
  const fields: number[] = [];
  let start = 0;
  if (!text.startsWith(`${VERSION}|`)) return undefined;
  start = VERSION.length + 1;
  for (let i = 0; i < 3; i++) {
    const end = text.indexOf('|', start);
    if (end < 0) return undefined;
    const n = Number(text.slice(start, end));
    if (!Number.isFinite(n)) return undefined;
    fields.push(n);
    start = end + 1;
  }
  return { freshUntil: fields[0]!, staleUntil: fields[1]!, loadMs: fields[2]!, payload: text.slice(start) };
}
