import { isValidTimezone } from '../features/index.js';
import { err, ok, type Result } from '../platform/index.js';
import { WEEKDAYS, type NewStore, type OpeningHours, type Weekday } from './types.js';

/** One problem with one field; `field` is the API's snake_case path (`location.lat`, `opening_hours.mon.0.1`). */
export interface FieldIssue {
  field: string;
  /** Short and stable, for reports and metric labels. */
  reason:
    'missing_field' | 'wrong_type' | 'out_of_range' | 'bad_format' | 'invalid_timezone' | 'unknown_field';
  message: string;
}

/**
 * A change to opening hours, merged by day: a day present replaces that day; `[]` or `null` closes it; a day
 * absent is unchanged. (A PUT replaces the whole week.)
 */
export type OpeningHoursPatch = Partial<Record<Weekday, Array<[string, string]> | null>>;

/** A partial update: any field but the id; opening hours merge by day. */
export type StorePatch = Partial<Omit<NewStore, 'storeId' | 'openingHours'>> & {
  openingHours?: OpeningHoursPatch;
};

export const STORE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** "24:00" may only end an interval: it is the end of the day. */
const CLOCK = /^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$/;
const MAX_INTERVALS_PER_DAY = 12;
export const MAX_RADIUS_KM = 50;
/** A prep time of a day is a data error, not a slow kitchen. */
const MAX_PREP_SECONDS = 86_400;

/** "HH:MM" -> minutes since midnight, 0..1440; undefined when malformed. */
export function parseClock(value: string): number | undefined {
  const m = CLOCK.exec(value);
  if (!m) return undefined;
  return m[1] === undefined ? 1440 : Number(m[1]) * 60 + Number(m[2]);
}

class Issues {
  readonly list: FieldIssue[] = [];
  add(field: string, reason: FieldIssue['reason'], message: string): undefined {
    this.list.push({ field, reason, message });
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function text(issues: Issues, field: string, v: unknown, max: number): string | undefined {
  if (v === undefined || v === null) return issues.add(field, 'missing_field', 'is required');
  if (typeof v !== 'string') return issues.add(field, 'wrong_type', 'must be a string');
  if (v.trim() === '') return issues.add(field, 'missing_field', 'must not be empty');
  if (v.length > max) return issues.add(field, 'out_of_range', `must be at most ${max} characters`);
  return v;
}

function num(issues: Issues, field: string, v: unknown): number | undefined {
  if (v === undefined || v === null) return issues.add(field, 'missing_field', 'is required');
  if (typeof v !== 'number') return issues.add(field, 'wrong_type', 'must be a number');
  if (!Number.isFinite(v)) return issues.add(field, 'wrong_type', 'must be a finite number');
  return v;
}

function checkId(issues: Issues, v: unknown): string | undefined {
  if (v === undefined || v === null || v === '')
    return issues.add('store_id', 'missing_field', 'is required');
  if (typeof v !== 'string') return issues.add('store_id', 'wrong_type', 'must be a string');
  if (!STORE_ID_PATTERN.test(v)) {
    return issues.add('store_id', 'bad_format', 'must be 1-64 characters of A-Z a-z 0-9 _ . : -');
  }
  return v;
}

function checkLocation(issues: Issues, v: unknown): { lat: number; lng: number } | undefined {
  if (v === undefined || v === null) return issues.add('location', 'missing_field', 'is required');
  if (!isObject(v)) return issues.add('location', 'wrong_type', 'must be an object {lat, lng}');
  const lat = num(issues, 'location.lat', v.lat);
  const lng = num(issues, 'location.lng', v.lng);
  if (lat !== undefined && (lat < -90 || lat > 90))
    issues.add('location.lat', 'out_of_range', 'must be -90..90');
  if (lng !== undefined && (lng < -180 || lng > 180))
    issues.add('location.lng', 'out_of_range', 'must be -180..180');
  return lat === undefined || lng === undefined ? undefined : { lat, lng };
}

function checkOpeningHours(issues: Issues, v: unknown): OpeningHours | undefined {
  if (v === undefined || v === null) return {};
  return checkDays(issues, v, false) as OpeningHours | undefined;
}

/** A PATCH's hours: the same days, where `null` (like `[]`) closes the day. */
function checkOpeningHoursPatch(issues: Issues, v: unknown): OpeningHoursPatch | undefined {
  if (v === null)
    return issues.add(
      'opening_hours',
      'wrong_type',
      'must be an object of weekday -> intervals (a PATCH merges by day; PUT the store to replace the week)',
    );
  return checkDays(issues, v, true);
}

function checkDays(issues: Issues, v: unknown, nullCloses: boolean): OpeningHoursPatch | undefined {
  if (!isObject(v))
    return issues.add('opening_hours', 'wrong_type', 'must be an object of weekday -> intervals');
  const before = issues.list.length;
  const hours: OpeningHoursPatch = {};
  for (const [day, intervals] of Object.entries(v)) {
    const field = `opening_hours.${day}`;
    if (!(WEEKDAYS as readonly string[]).includes(day)) {
      issues.add(field, 'unknown_field', `is not a weekday (${WEEKDAYS.join(', ')})`);
      continue;
    }
    if (intervals === null && nullCloses) {
      hours[day as Weekday] = null;
      continue;
    }
    if (!Array.isArray(intervals)) {
      issues.add(field, 'wrong_type', 'must be a list of ["HH:MM", "HH:MM"] intervals');
      continue;
    }
    if (intervals.length > MAX_INTERVALS_PER_DAY) {
      issues.add(field, 'out_of_range', `must have at most ${MAX_INTERVALS_PER_DAY} intervals`);
      continue;
    }
    const out: Array<[string, string]> = [];
    intervals.forEach((interval: unknown, i) => {
      const at = `${field}.${i}`;
      if (!Array.isArray(interval) || interval.length !== 2) {
        issues.add(at, 'wrong_type', 'must be a pair ["HH:MM", "HH:MM"]');
        return;
      }
      const [open, close] = interval as unknown[];
      const from = typeof open === 'string' ? parseClock(open) : undefined;
      const to = typeof close === 'string' ? parseClock(close) : undefined;
      if (from === undefined || from === 1440)
        issues.add(`${at}.0`, 'bad_format', 'must be a time "HH:MM" in 00:00-23:59');
      if (to === undefined) issues.add(`${at}.1`, 'bad_format', 'must be a time "HH:MM" in 00:00-24:00');
      if (from === undefined || to === undefined || from === 1440) return;
      // An equal start and end would be ambiguous: closed, or open all day? "00:00"-"24:00" says the latter.
      if (from === to % 1440 && !(from === 0 && to === 1440)) {
        issues.add(
          at,
          'out_of_range',
          'must not start and end at the same time (use ["00:00", "24:00"] for all day)',
        );
        return;
      }
      out.push([open as string, close as string]);
    });
    hours[day as Weekday] = out;
  }
  return issues.list.length > before ? undefined : hours;
}

function checkRadius(issues: Issues, v: unknown): number | undefined {
  const r = num(issues, 'delivery_radius_km', v);
  if (r !== undefined && (r <= 0 || r > MAX_RADIUS_KM)) {
    return issues.add(
      'delivery_radius_km',
      'out_of_range',
      `must be more than 0 and at most ${MAX_RADIUS_KM}`,
    );
  }
  return r;
}

function checkPrep(issues: Issues, v: unknown): { meanSeconds: number; p90Seconds: number } | undefined {
  if (v === undefined || v === null) return issues.add('prep_profile', 'missing_field', 'is required');
  if (!isObject(v))
    return issues.add('prep_profile', 'wrong_type', 'must be an object {mean_seconds, p90_seconds}');
  const mean = num(issues, 'prep_profile.mean_seconds', v.mean_seconds);
  const p90 = num(issues, 'prep_profile.p90_seconds', v.p90_seconds);
  let good = mean !== undefined && p90 !== undefined;
  for (const [field, s] of [
    ['prep_profile.mean_seconds', mean],
    ['prep_profile.p90_seconds', p90],
  ] as const) {
    if (s !== undefined && (s <= 0 || s > MAX_PREP_SECONDS)) {
      issues.add(field, 'out_of_range', `must be more than 0 and at most ${MAX_PREP_SECONDS}`);
      good = false;
    }
  }
  if (good && p90! < mean!) {
    issues.add('prep_profile.p90_seconds', 'out_of_range', 'must be at least mean_seconds');
    good = false;
  }
  return good ? { meanSeconds: mean!, p90Seconds: p90! } : undefined;
}

function checkTimezone(issues: Issues, v: unknown): string | undefined {
  const tz = text(issues, 'timezone', v, 64);
  if (tz !== undefined && !isValidTimezone(tz)) {
    return issues.add(
      'timezone',
      'invalid_timezone',
      `${JSON.stringify(tz)} is not an IANA timezone (Europe/Paris)`,
    );
  }
  return tz;
}

const STORE_FIELDS = new Set([
  'store_id',
  'name',
  'location',
  'category',
  'timezone',
  'opening_hours',
  'delivery_radius_km',
  'prep_profile',
  // Echoed back by clients that PUT what they GET; ignored.
  'created_at',
  'updated_at',
]);

function unknownFields(issues: Issues, input: Record<string, unknown>): void {
  for (const key of Object.keys(input)) {
    if (!STORE_FIELDS.has(key)) issues.add(key, 'unknown_field', 'is not a store field');
  }
}

/** A store in the API's JSON shape, from untrusted input (a request body, a CSV row, a JSON line). */
export function parseStore(input: unknown): Result<NewStore, FieldIssue[]> {
  const issues = new Issues();
  if (!isObject(input))
    return err([{ field: 'body', reason: 'wrong_type', message: 'must be a JSON object' }]);
  unknownFields(issues, input);
  const store = {
    storeId: checkId(issues, input.store_id),
    name: text(issues, 'name', input.name, 200),
    location: checkLocation(issues, input.location),
    category: text(issues, 'category', input.category, 64),
    timezone: checkTimezone(issues, input.timezone),
    openingHours: checkOpeningHours(issues, input.opening_hours),
    deliveryRadiusKm: checkRadius(issues, input.delivery_radius_km),
    prepProfile: checkPrep(issues, input.prep_profile),
  };
  return issues.list.length > 0 ? err(issues.list) : ok(store as NewStore);
}

/** A partial update in the API's JSON shape. The id is the URL's; a different one in the body is refused. */
export function parseStorePatch(input: unknown, storeId: string): Result<StorePatch, FieldIssue[]> {
  const issues = new Issues();
  if (!isObject(input))
    return err([{ field: 'body', reason: 'wrong_type', message: 'must be a JSON object' }]);
  unknownFields(issues, input);
  const patch: StorePatch = {};
  if (input.store_id !== undefined && input.store_id !== storeId) {
    issues.add('store_id', 'bad_format', 'cannot change; it must equal the id in the URL');
  }
  if (input.name !== undefined) patch.name = text(issues, 'name', input.name, 200);
  if (input.location !== undefined) patch.location = checkLocation(issues, input.location);
  if (input.category !== undefined) patch.category = text(issues, 'category', input.category, 64);
  if (input.timezone !== undefined) patch.timezone = checkTimezone(issues, input.timezone);
  if (input.opening_hours !== undefined)
    patch.openingHours = checkOpeningHoursPatch(issues, input.opening_hours);
  if (input.delivery_radius_km !== undefined)
    patch.deliveryRadiusKm = checkRadius(issues, input.delivery_radius_km);
  if (input.prep_profile !== undefined) patch.prepProfile = checkPrep(issues, input.prep_profile);
  return issues.list.length > 0 ? err(issues.list) : ok(patch);
}

/** The same rules on a typed store: what every catalog checks before it writes, whoever the caller is. */
export function validateStore(store: NewStore): FieldIssue[] {
  const result = parseStore({
    store_id: store.storeId,
    name: store.name,
    location: store.location,
    category: store.category,
    timezone: store.timezone,
    opening_hours: store.openingHours,
    delivery_radius_km: store.deliveryRadiusKm,
    prep_profile: store.prepProfile && {
      mean_seconds: store.prepProfile.meanSeconds,
      p90_seconds: store.prepProfile.p90Seconds,
    },
  });
  return result.ok ? [] : result.error;
}
