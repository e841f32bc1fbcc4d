import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { utcOffsetMs } from '../../features/index.js';
import { OrderTable } from '../../simulator/index.js';
import { readCsv } from './csv.js';
import type { TrainingData } from '../training/run.js';
import type { HistoryOrder, OrderHistory } from '../history.js';

/** How one value is read from a row: a column (optionally mapped through `values`), or a constant. */
export type ValueSpec =
  | { column: string; values?: Record<string, string | number>; default?: string | number }
  | { constant: string | number };

/**
 * When something happened. `date` + `time` columns (YYYY-MM-DD, HH:MM[:SS]) or one `column` (ISO 8601, or
 * `format: "DD HH:MM:SS"` with the `year` and `month` given); or `minutesAfterCreated`, a duration column.
 * A step that reads earlier than the order's creation rolled over midnight (or, for day-of-month formats, the month).
 */
export type TimeSpec =
  | { date: string; time: string }
  | { column: string; format?: 'iso' | 'DD HH:MM:SS'; year?: number; month?: number }
  | { minutesAfterCreated: string };

export interface CsvMapping {
  description?: string;
  /** Timezone the timestamps are written in (default: the stores' timezone). */
  timestampsTimezone?: string;
  /** The stores' IANA timezone: local hour and weekday features. */
  timezone: string;
  /** Rows are kept only when this column has this value (e.g. on-demand orders only). */
  filter?: { column: string; equals: string };
  orderId?: ValueSpec;
  store: {
    /** Default: the store's coordinates, rounded to 4 decimals. */
    id?: ValueSpec;
    lat: ValueSpec;
    lng: ValueSpec;
    category?: ValueSpec;
    /** Declared prep time; datasets rarely have one, so a constant is usual. */
    prepMeanSeconds?: ValueSpec;
  };
  /** Default: the store's own location (datasets without customer coordinates). */
  destination?: { lat: ValueSpec; lng: ValueSpec };
  createdAt: TimeSpec;
  acceptedAt?: TimeSpec;
  readyAt?: TimeSpec;
  pickedUpAt?: TimeSpec;
  deliveredAt: TimeSpec;
  items?: ValueSpec;
  subtotal?: ValueSpec;
}

export async function readMapping(file: string): Promise<CsvMapping> {
  const text = await readFile(file, 'utf8');
  const mapping = (file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) as CsvMapping;
  for (const key of ['timezone', 'store', 'createdAt', 'deliveredAt'] as const)
    if (!mapping?.[key]) throw new Error(`mapping ${file} lacks "${key}"`);
  return mapping;
}

const DAY = 86_400_000;

/** Orders from a CSV through a mapping: what `etaserve train --csv FILE --mapping FILE` trains on. */
export async function csvData(
  file: string,
  mapping: CsvMapping,
): Promise<TrainingData & { skipped: number }> {
  const { header, rows } = await readCsv(file);
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${file} has no column "${name}" (columns: ${header.join(', ')})`);
    return i;
  };
  const value = (spec: ValueSpec | undefined, row: string[]): string | number | undefined => {
    if (!spec) return undefined;
    if ('constant' in spec) return spec.constant;
    const raw = (row[col(spec.column)] ?? '').trim();
    if (spec.values) return spec.values[raw] ?? spec.default;
    return raw === '' || raw === 'NaN' ? spec.default : raw;
  };
  const number = (spec: ValueSpec | undefined, row: string[]): number => {
    const v = value(spec, row);
    return v === undefined ? Number.NaN : Number(v);
  };
  const tsZone = mapping.timestampsTimezone ?? mapping.timezone;
  const wall = (y: number, mo: number, d: number, h: number, mi: number, s: number): number => {
    const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
    return asUtc - utcOffsetMs(tsZone, asUtc - utcOffsetMs(tsZone, asUtc));
  };
  const time = (spec: TimeSpec | undefined, row: string[], createdMs?: number): number | null => {
    if (!spec) return null;
    let ms = Number.NaN;
    let rollover = DAY;
    if ('minutesAfterCreated' in spec) {
      const m = Number(row[col(spec.minutesAfterCreated)]);
      return createdMs === undefined || !Number.isFinite(m) ? null : createdMs + m * 60_000;
    }
    if ('date' in spec) {
      const d = /^(\d{4})-(\d{2})-(\d{2})/.exec(row[col(spec.date)] ?? '');
      const t = /^(\d{1,2}):(\d{2})(?::(\d{2}))?/.exec(row[col(spec.time)] ?? '');
      if (d && t) ms = wall(+d[1]!, +d[2]!, +d[3]!, +t[1]!, +t[2]!, +(t[3] ?? 0));
    } else if (spec.format === 'DD HH:MM:SS') {
      const m = /^(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})/.exec(row[col(spec.column)] ?? '');
      if (m) ms = wall(spec.year ?? 2000, spec.month ?? 1, +m[1]!, +m[2]!, +m[3]!, +m[4]!);
      rollover = 31 * DAY;
    } else ms = Date.parse(row[col(spec.column)] ?? '');
    if (!Number.isFinite(ms)) return null;
    if (createdMs !== undefined && ms < createdMs) ms += rollover;
    return ms;
  };

  const stores = new Map<string, OrderHistory['stores'][number]>();
  const orders: HistoryOrder[] = [];
  let skipped = 0;
  rows.forEach((row, i) => {
    if (mapping.filter && (row[col(mapping.filter.column)] ?? '').trim() !== mapping.filter.equals) return;
    const lat = number(mapping.store.lat, row);
    const lng = number(mapping.store.lng, row);
    const created = time(mapping.createdAt, row);
    const delivered = time(mapping.deliveredAt, row, created ?? undefined);
    // Rows a model cannot learn from: no place, no time, or an impossible one (null island, negative durations).
    if (
      !(Math.abs(lat) > 0.5 && Math.abs(lat) <= 90 && Math.abs(lng) > 0.5 && Math.abs(lng) <= 180) ||
      created === null ||
      delivered === null ||
      delivered <= created
    ) {
      skipped++;
      return;
    }
    const storeId = String(value(mapping.store.id, row) ?? `${lat.toFixed(4)},${lng.toFixed(4)}`);
    if (!stores.has(storeId))
      stores.set(storeId, {
        storeId,
        location: { lat, lng },
        category: String(value(mapping.store.category, row) ?? 'other'),
        timezone: mapping.timezone,
        prepProfile: {
          meanSeconds: number(mapping.store.prepMeanSeconds ?? { constant: 900 }, row),
          p90Seconds: Number.NaN,
        },
      });
    const destLat = mapping.destination ? number(mapping.destination.lat, row) : lat;
    const destLng = mapping.destination ? number(mapping.destination.lng, row) : lng;
    const accepted = time(mapping.acceptedAt, row, created);
    const ready = time(mapping.readyAt, row, created);
    orders.push({
      order_id: String(value(mapping.orderId, row) ?? `row-${i + 1}`),
      store_id: storeId,
      rider_id: null,
      destination: { lat: destLat, lng: destLng },
      items: number(mapping.items, row),
      subtotal: number(mapping.subtotal, row),
      created_at_ms: created,
      accepted_at_ms: accepted,
      ready_at_ms: ready !== null && accepted !== null && ready > accepted ? ready : null,
      picked_up_at_ms: time(mapping.pickedUpAt, row, created),
      delivered_at_ms: delivered,
      cancelled: false,
      cancelled_at_ms: null,
    });
  });
  orders.sort((a, b) => a.created_at_ms - b.created_at_ms);
  return {
    history: { stores: [...stores.values()], orders: OrderTable.from(orders) },
    describe: `csv:${file.split(/[\\/]/).pop()}`,
    skipped,
  };
}
