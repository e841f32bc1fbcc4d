import { err, ok, type Result } from '../platform/index.js';
import type { NewStore } from './types.js';
import { parseStore } from './validate.js';

/**
 * Stores from a file, for bulk loading (`etaserve stores import`): CSV with the catalog's columns, or JSON lines in
 * the API's shape. Each row is validated on its own; a bad row is refused with its line and reasons, never the file.
 */
export type StoreFileFormat = 'csv' | 'jsonl';

export type StoreFileRow = { line: number; store: NewStore } | { line: number; refused: string };

export const STORE_CSV_COLUMNS = [
  'store_id',
  'name',
  'lat',
  'lng',
  'category',
  'timezone',
  'delivery_radius_km',
  'prep_mean_s',
  'prep_p90_s',
  'opening_hours',
] as const;
const CSV_REQUIRED: readonly string[] = STORE_CSV_COLUMNS.filter((c) => c !== 'opening_hours');
const CSV_COLUMNS = new Set<string>(STORE_CSV_COLUMNS);
/** Validation speaks the API's field names; a CSV user knows the columns. */
const CSV_FIELD: Record<string, string> = {
  'location.lat': 'lat',
  'location.lng': 'lng',
  'prep_profile.mean_seconds': 'prep_mean_s',
  'prep_profile.p90_seconds': 'prep_p90_s',
};

/** A row in the API's shape, or why it could not even be read. */
type Row = { line: number; input: unknown } | { line: number; unreadable: string };

/** RFC 4180: quoted fields may hold commas, quotes ("") and line breaks. Each record keeps the line it starts on. */
export function parseCsv(text: string): Array<{ line: number; fields: string[] }> {
  const records: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  const src = text.replace(/^\uFEFF/, '');
  const endRecord = (): void => {
    fields.push(field);
    if (fields.length > 1 || fields[0]!.trim() !== '') records.push({ line: start, fields });
    fields = [];
    field = '';
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      endRecord();
      start = ++line;
    } else field += c;
  }
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}

const numberOrText = (v: string | undefined): unknown =>
  v === undefined || v.trim() === '' ? undefined : Number.isNaN(Number(v)) ? v : Number(v);

function csvRows(text: string): { rows: Row[] } | { problem: string } {
  const [header, ...records] = parseCsv(text);
  if (!header) return { rows: [] };
  const columns = header.fields.map((c) => c.trim().toLowerCase());
  const unknown = columns.filter((c) => !CSV_COLUMNS.has(c));
  const missing = CSV_REQUIRED.filter((c) => !columns.includes(c));
  if (unknown.length > 0 || missing.length > 0) {
    const parts = [
      missing.length ? `missing column(s) ${missing.join(', ')}` : '',
      unknown.length ? `unknown column(s) ${unknown.join(', ')}` : '',
    ];
    return {
      problem: `line 1: the header has ${parts.filter(Boolean).join(' and ')}; expected ${[...CSV_COLUMNS].join(',')}`,
    };
  }
  return {
    rows: records.map(({ line, fields }): Row => {
      if (fields.length !== columns.length) {
        return { line, unreadable: `row: has ${fields.length} fields, the header ${columns.length}` };
      }
      const v = Object.fromEntries(columns.map((c, i) => [c, fields[i]!]));
      let hours: unknown;
      if (v.opening_hours?.trim()) {
        try {
          hours = JSON.parse(v.opening_hours);
        } catch {
          return { line, unreadable: 'opening_hours: is not valid JSON' };
        }
      }
      return {
        line,
        input: {
          store_id: v.store_id?.trim(),
          name: v.name,
          location: { lat: numberOrText(v.lat), lng: numberOrText(v.lng) },
          category: v.category?.trim(),
          timezone: v.timezone?.trim(),
          opening_hours: hours,
          delivery_radius_km: numberOrText(v.delivery_radius_km),
          prep_profile: {
            mean_seconds: numberOrText(v.prep_mean_s),
            p90_seconds: numberOrText(v.prep_p90_s),
          },
        },
      };
    }),
  };
}

function jsonlRows(text: string): Row[] {
  const rows: Row[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      rows.push({ line: i + 1, input: JSON.parse(raw) as unknown });
    } catch (e) {
      rows.push({ line: i + 1, unreadable: `is not valid JSON (${(e as Error).message})` });
    }
  });
  return rows;
}

/** The format a file name says, else the first character (`{` for JSON lines). */
export function detectStoreFileFormat(fileName: string, text: string): StoreFileFormat {
  if (/\.csv$/i.test(fileName)) return 'csv';
  if (/\.(jsonl|ndjson|json)$/i.test(fileName)) return 'jsonl';
  return text.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

/**
 * Every row of the file, validated: a store, or `line L: field: reason[; field: reason]`. A store id seen on an
 * earlier line is refused (the file is probably wrong). A CSV header that is not the catalog's fails the whole file.
 */
export function readStoreFile(text: string, format: StoreFileFormat): Result<StoreFileRow[], string> {
  const read = format === 'csv' ? csvRows(text) : { rows: jsonlRows(text) };
  if ('problem' in read) return err(read.problem);
  const firstLine = new Map<string, number>();
  return ok(
    read.rows.map((row): StoreFileRow => {
      if ('unreadable' in row) return { line: row.line, refused: `line ${row.line}: ${row.unreadable}` };
      const result = parseStore(row.input);
      if (!result.ok) {
        const name = (field: string): string => (format === 'csv' ? (CSV_FIELD[field] ?? field) : field);
        const reasons = result.error.map((i) => `${name(i.field)}: ${i.message}`).join('; ');
        return { line: row.line, refused: `line ${row.line}: ${reasons}` };
      }
      const id = result.value.storeId;
      const seen = firstLine.get(id);
      if (seen !== undefined)
        return { line: row.line, refused: `line ${row.line}: store_id: ${id} is already on line ${seen}` };
      firstLine.set(id, row.line);
      return { line: row.line, store: result.value };
    }),
  );
}
