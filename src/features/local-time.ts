/**
 * Hour and weekday in a store's own timezone. Intl formatting costs microseconds, so the UTC offset is cached per
 * timezone and quarter hour (offsets change only on whole quarter hours).
 */
const QUARTER_HOUR_MS = 15 * 60 * 1000;
const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, number>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** Throws RangeError for an unknown IANA timezone. */
export function utcOffsetMs(timezone: string, epochMs: number): number {
  const bucket = Math.floor(epochMs / QUARTER_HOUR_MS);
  const key = `${timezone}|${bucket}`;
  const cached = offsets.get(key);
  if (cached !== undefined) return cached;
  const parts = formatterFor(timezone).formatToParts(new Date(bucket * QUARTER_HOUR_MS));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  const offset = asUtc - bucket * QUARTER_HOUR_MS;
  if (offsets.size > 50_000) offsets.clear();
  offsets.set(key, offset);
  return offset;
}

export function isValidTimezone(timezone: string): boolean {
  try {
    formatterFor(timezone);
    return true;
  } catch {
    return false;
  }
}

export interface LocalTime {
  /** 0 = Monday ... 6 = Sunday */
  weekday: number;
  /** fractional hour, 0 <= hour < 24 */
  hour: number;
  /** 0 ... 167, Monday 00:00 = 0 */
  hourOfWeek: number;
  /** minutes since local midnight */
  minuteOfDay: number;
}

export function localTime(timezone: string, epochMs: number): LocalTime {
  const local = new Date(epochMs + utcOffsetMs(timezone, epochMs));
  const weekday = (local.getUTCDay() + 6) % 7;
  const minuteOfDay = local.getUTCHours() * 60 + local.getUTCMinutes();
  const hour = minuteOfDay / 60 + local.getUTCSeconds() / 3600;
  return { weekday, hour, hourOfWeek: weekday * 24 + local.getUTCHours(), minuteOfDay };
}
