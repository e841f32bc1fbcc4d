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

const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * ISO 8601 in a timezone's offset at that instant: "2026-11-26T19:42:00+01:00". Offsets before standard time were
 * local mean time, not whole minutes (Paris in 1900 was +00:09:21), and ISO 8601 offsets are ±HH:MM: the offset is
 * rounded to a whole minute and the wall time written in that offset, so the text still names the exact instant.
 */
export function formatIsoWithOffset(epochMs: number, timezone: string): string {
  const offsetMinutes = Math.round(utcOffsetMs(timezone, epochMs) / 60_000);
  const d = new Date(epochMs + offsetMinutes * 60_000);
  const year = d.getUTCFullYear();
  const iso = d.toISOString();
  // Years past 9999 or before 0 are written as ISO 8601's expanded ±YYYYYY, as toISOString does.
  const yyyy = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : iso.slice(0, iso.indexOf('-', 1));
  const ms = d.getUTCMilliseconds();
  const abs = Math.abs(offsetMinutes);
  return (
    `${yyyy}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}` +
    (ms === 0 ? '' : `.${String(ms).padStart(3, '0')}`) +
    `${offsetMinutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`
  );
}
