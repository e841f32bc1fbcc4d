export const fmtMin = (seconds: number): string => `${Math.round(seconds / 60)} min`;
export const fmtNum = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '–'
    : x.toLocaleString('en', { maximumFractionDigits: digits });
export const fmtPct = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`;
export const fmtMs = (x: number | null | undefined): string =>
  x === null || x === undefined ? '–' : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`;

/** The value of a datetime-local input for a moment, in the browser's zone. */
export function localInputValue(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A datetime-local value as ISO 8601; empty means now. */
export function orderedAtIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Green for quick, amber, then red for slow: an ETA's colour on the map and in lists. */
export function etaColour(seconds: number, min = 15 * 60, max = 60 * 60): string {
  const t = Math.min(1, Math.max(0, (seconds - min) / (max - min)));
  const hue = 140 - 140 * t;
  return `hsl(${hue.toFixed(0)} 70% 42%)`;
}

/**
 * P(late)'s colour on the Orders map: green for on time, amber at even odds (0.5, the late-risk alert threshold),
 * red for surely late; the hue moves evenly in between.
 */
export function lateColour(pLate: number): string {
  const p = Number.isFinite(pLate) ? Math.min(1, Math.max(0, pLate)) : 0;
  const hue = p <= 0.5 ? 140 - (140 - 38) * (p / 0.5) : 38 - 38 * ((p - 0.5) / 0.5);
  return `hsl(${hue.toFixed(0)} 75% 42%)`;
}

/** Distinct series colours, readable on white. */
export const PALETTE = [
  '#2563eb',
  '#16a34a',
  '#d97706',
  '#dc2626',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#475569',
];

/** The browser's IANA zone, to name it wherever a time is shown in it. */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Wall-clock fields of a moment in a zone. */
function wallFields(date: Date, zone: string): Record<string, number> {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(date);
  const out: Record<string, number> = {};
  for (const p of parts) if (p.type !== 'literal') out[p.type] = Number(p.value);
  return out;
}

/** The zone's offset from UTC at a moment, in milliseconds. */
function zoneOffsetMs(date: Date, zone: string): number {
  const f = wallFields(date, zone);
  const asUtc = Date.UTC(f.year!, f.month! - 1, f.day!, f.hour!, f.minute!, f.second!);
  return asUtc - Math.floor(date.getTime() / 1000) * 1000;
}

/**
 * "19:42 Europe/Paris": a store-related time on the store's clock, with the zone named so nobody reads it as
 * their own. A different day than today (in that zone) shows the date too.
 */
export function zoneTime(at: string | number | Date, zone: string, now: Date = new Date()): string {
  const d = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(d.getTime())) return '–';
  const f = wallFields(d, zone);
  const today = wallFields(now, zone);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const clock = `${pad(f.hour!)}:${pad(f.minute!)}`;
  const sameDay = f.year === today.year && f.month === today.month && f.day === today.day;
  return sameDay ? `${clock} ${zone}` : `${f.year}-${pad(f.month!)}-${pad(f.day!)} ${clock} ${zone}`;
}

/**
 * A global timestamp (audit log, registry) in the browser's zone, the zone named; `named: false` where a column
 * header already names it.
 */
export function globalTime(at: string | number | Date, named = true): string {
  const d = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(d.getTime())) return '–';
  const zone = browserZone();
  const f = wallFields(d, zone);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${f.year}-${pad(f.month!)}-${pad(f.day!)} ${pad(f.hour!)}:${pad(f.minute!)}:${pad(f.second!)}`;
  return named ? `${stamp} ${zone}` : stamp;
}

/** The value of a datetime-local input for a moment, on the clock of a zone. */
export function zoneInputValue(date: Date, zone: string): string {
  const f = wallFields(date, zone);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${f.year}-${pad(f.month!)}-${pad(f.day!)}T${pad(f.hour!)}:${pad(f.minute!)}`;
}

/**
 * A datetime-local value read on a zone's clock, as ISO 8601; empty means now. The offset is taken at the
 * guessed instant and checked once more, which settles every DST edge but the skipped hour itself.
 */
export function zoneInputIso(value: string, zone: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) return undefined;
  const wall = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!);
  let t = wall - zoneOffsetMs(new Date(wall), zone);
  t = wall - zoneOffsetMs(new Date(t), zone);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** The zone most stores are in: the clock for times that concern several stores at once (the map). */
export function mainZone(stores: Array<{ timezone: string }>): string {
  const count = new Map<string, number>();
  for (const s of stores) count.set(s.timezone, (count.get(s.timezone) ?? 0) + 1);
  let best = 'UTC';
  let n = 0;
  for (const [z, c] of count)
    if (c > n) {
      best = z;
      n = c;
    }
  return best;
}
