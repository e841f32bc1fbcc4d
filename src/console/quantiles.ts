/** Cumulative bucket counts of one histogram over a window: upper bound -> observations at or below it. */
export type Buckets = Map<number, number>;

/**
 * The q-quantile of a histogram window, interpolating linearly inside the bucket that holds it, the way
 * Prometheus' histogram_quantile does. Null when the window saw no observation.
 */
export function bucketQuantile(q: number, buckets: Buckets): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  if (bounds.length === 0) return null;
  const total = buckets.get(bounds[bounds.length - 1]!)!;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const le of bounds) {
    const count = buckets.get(le)!;
    if (count >= rank) {
      // Past the last finite bound nothing is known but that bound.
      if (le === Infinity) return lowerBound;
      const inBucket = count - lowerCount;
      return inBucket > 0 ? lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket : le;
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
