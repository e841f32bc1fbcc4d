import { isoInTimezone } from '../../src/gateway/promise.js';
import { localTime, utcOffsetMs } from '../../src/features/index.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The next instant (at least a minute from now) when a clock in `timezone` reads `hour:minute`, optionally on a given
 * weekday (0 = Monday). Tests ask for times relative to now, so they stay inside the API's plausible-time window
 * whatever day they run.
 */
export function nextLocalMs(
  timezone: string,
  hour: number,
  minute = 0,
  options: { weekday?: number; nowMs?: number } = {},
): number {
  const now = options.nowMs ?? Date.now();
  for (let day = 0; day <= 8; day++) {
    // Local midnight of that day, then the wall time; re-read the offset at the target for DST days.
    const guess = now + day * DAY_MS;
    const offset = utcOffsetMs(timezone, guess);
    const localMidnight = Math.floor((guess + offset) / DAY_MS) * DAY_MS;
    const wall = localMidnight + (hour * 60 + minute) * 60_000;
    const at = wall - utcOffsetMs(timezone, wall - offset);
    if (at < now + 60_000) continue;
    if (options.weekday !== undefined && localTime(timezone, at).weekday !== options.weekday) continue;
    return at;
  }
  throw new Error(`no ${hour}:${minute} in ${timezone} within 8 days`);
}

/** `nextLocalMs` as ISO 8601 with the zone's offset, as a client would send it. */
export function nextLocalIso(
  timezone: string,
  hour: number,
  minute = 0,
  options: { weekday?: number; nowMs?: number } = {},
): string {
  return isoInTimezone(nextLocalMs(timezone, hour, minute, options), timezone);
}

/** Tonight (or tomorrow night) at 19:05 in Paris: the simulated city's stores are open. */
export const parisEvening = (minute = 5): string => nextLocalIso('Europe/Paris', 19, minute);

/** An instant `minutesAgo` before now, in UTC ISO 8601. */
export const minutesAgoIso = (minutesAgo: number): string =>
  new Date(Date.now() - minutesAgo * 60_000).toISOString();
