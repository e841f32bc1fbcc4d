import { formatIsoWithOffset, localTime, utcOffsetMs } from '../features/index.js';
import { WEEKDAYS, type OpeningHours } from './types.js';
import { parseClock } from './validate.js';

/**
 * Opening hours are wall-clock times in the store's timezone.
 *
 * - `{}` (no day at all) means open 24/7: a store created without hours is not closed forever.
 * - Otherwise a day that is missing, or has no intervals, is closed that day.
 * - An interval whose end is not after its start runs past midnight and belongs to the day it opens:
 *   `["23:00", "11:00"]` on Monday is open from Monday 23:00 to Tuesday 11:00 (late-night kitchens), and says
 *   nothing about Tuesday night. `["00:00", "24:00"]` is the whole day.
 * - DST: a store is open when the local wall clock is inside an interval. An opening time that the clock skips
 *   (02:30 on a spring-forward night) opens at the first instant after the gap; one the clock passes twice opens at
 *   the first of them.
 */
type Interval = { from: number; to: number };

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** Minutes since local midnight, `to` beyond 1440 for overnight intervals. Cached: stores are read far more than written. */
const parsed = new WeakMap<OpeningHours, Interval[][]>();

function intervalsByDay(hours: OpeningHours): Interval[][] {
  let days = parsed.get(hours);
  if (days) return days;
  days = WEEKDAYS.map((day) =>
    (hours[day] ?? [])
      .map(([open, close]) => {
        const from = parseClock(open) ?? 0;
        let to = parseClock(close) ?? 0;
        if (to <= from) to += 1440;
        return { from, to };
      })
      .sort((a, b) => a.from - b.from),
  );
  parsed.set(hours, days);
  return days;
}

const alwaysOpen = (hours: OpeningHours): boolean => Object.keys(hours).length === 0;

export function isOpen(store: { openingHours: OpeningHours; timezone: string }, atMs: number): boolean {
  if (alwaysOpen(store.openingHours)) return true;
  const days = intervalsByDay(store.openingHours);
  const { weekday, minuteOfDay } = localTime(store.timezone, atMs);
  if (days[weekday]!.some((i) => minuteOfDay >= i.from && minuteOfDay < i.to)) return true;
  // Yesterday's overnight intervals reach into today.
  return days[(weekday + 6) % 7]!.some((i) => i.to > 1440 && minuteOfDay < i.to - 1440);
}

/**
 * The instant the local wall clock of `timezone` reads `localMs` (a wall-clock time written as if it were UTC).
 * In a gap it is the end of the gap; in an overlap, the earlier instant.
 */
export function localToEpochMs(timezone: string, localMs: number): number {
  const before = utcOffsetMs(timezone, localMs - DAY_MS);
  const after = utcOffsetMs(timezone, localMs + DAY_MS);
  const candidates = [localMs - before, localMs - after]
    .filter((u) => u + utcOffsetMs(timezone, u) === localMs)
    .sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0]!;
  // A gap: the transition lies between the two readings; offsets change on whole quarter hours.
  let lo = Math.min(localMs - before, localMs - after);
  let hi = Math.max(localMs - before, localMs - after);
  const offsetAtLo = utcOffsetMs(timezone, lo);
  while (hi - lo > MINUTE_MS) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE_MS) * MINUTE_MS;
    if (utcOffsetMs(timezone, mid) === offsetAtLo) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** ISO 8601 with the timezone's offset at that instant: "2026-11-26T11:00:00+01:00" (the shared formatter). */
export function formatWithOffset(timezone: string, epochMs: number): string {
  return formatIsoWithOffset(epochMs, timezone);
}

/** Epoch ms of the next opening after `atMs`; null when open now or never open. */
export function nextOpeningMs(
  store: { openingHours: OpeningHours; timezone: string },
  atMs: number,
): number | null {
  if (isOpen(store, atMs)) return null;
  const days = intervalsByDay(store.openingHours);
  const nowLocal = atMs + utcOffsetMs(store.timezone, atMs);
  const midnight = Math.floor(nowLocal / DAY_MS) * DAY_MS;
  const { weekday } = localTime(store.timezone, atMs);
  // Today's later openings, then the next seven days' (a store open only on today's weekday opens in 7 days).
  for (let d = 0; d <= 7; d++) {
    for (const interval of days[(weekday + d) % 7]!) {
      const opensAt = localToEpochMs(store.timezone, midnight + d * DAY_MS + interval.from * MINUTE_MS);
      if (opensAt > atMs) return opensAt;
    }
  }
  return null;
}

/** When a closed store opens next, as ISO 8601 with its UTC offset; null when it is open now or never opens. */
export function nextOpening(
  store: { openingHours: OpeningHours; timezone: string },
  atMs: number,
): string | null {
  const ms = nextOpeningMs(store, atMs);
  return ms === null ? null : formatWithOffset(store.timezone, ms);
}
