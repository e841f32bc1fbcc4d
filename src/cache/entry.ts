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
  /** The value as the codec encoded it: what L2 stores and what the L1 byte bound counts. */
  payload: string;
}

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
  entry: Pick<Entry<unknown>, 'freshUntil' | 'staleUntil' | 'loadMs'>,
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

// Envelope of an L2 value: "1|freshUntil|staleUntil|loadMs|payload". A version digit lets the format change.
const VERSION = '1';

export function encodeEnvelope(entry: Entry<unknown>): string {
  return `${VERSION}|${entry.freshUntil}|${entry.staleUntil}|${Math.round(entry.loadMs)}|${entry.payload}`;
}

/** undefined for anything this version does not understand; the caller treats it as a miss. */
export function decodeEnvelope(
  text: string,
): Pick<Entry<unknown>, 'freshUntil' | 'staleUntil' | 'loadMs' | 'payload'> | undefined {
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
