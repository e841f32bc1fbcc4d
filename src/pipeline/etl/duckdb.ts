import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { FlatEvent } from './history-events.js';

/** The lake's event columns, in DuckDB types; the same list reads NDJSON and describes the Parquet files. */
export const EVENT_COLUMNS = {
  event_id: 'VARCHAR',
  type: 'VARCHAR',
  occurred_ms: 'BIGINT',
  order_id: 'VARCHAR',
  store_id: 'VARCHAR',
  rider_id: 'VARCHAR',
  dest_lat: 'DOUBLE',
  dest_lng: 'DOUBLE',
  items: 'DOUBLE',
  subtotal: 'DOUBLE',
  quoted_eta_s: 'DOUBLE',
  model_version: 'VARCHAR',
  lat: 'DOUBLE',
  lng: 'DOUBLE',
  available: 'BOOLEAN',
  ordered_ms: 'BIGINT',
  served_version: 'VARCHAR',
  served_p50: 'DOUBLE',
  shadow_version: 'VARCHAR',
  shadow_p50: 'DOUBLE',
} as const;

/** One chunk of a result (up to 2048 rows): a column's values by name, BIGINT as number, absent as null. */
export type Chunk = (column: string) => ReadonlyArray<number | string | boolean | null>;

export interface Duck {
  conn: DuckDBConnection;
  /** Rows as plain objects: BIGINT as number, so callers never see bigint. For small results. */
  all<R>(sql: string): Promise<R[]>;
  /** A large result chunk by chunk, as columns: rows never become objects, and only one chunk is in memory. */
  forEachChunk(sql: string, visit: (chunk: Chunk, rows: number) => void): Promise<void>;
  close(): void;
}

export interface DuckOptions {
  /** Bounds DuckDB's buffer memory (outside the JS heap; by default 80% of the machine). */
  memoryLimit?: string;
  /**
   * A database file in the spill directory instead of memory: tables the caller creates can then leave memory
   * for disk under the limit, as an in-memory database's tables cannot.
   */
  onDisk?: boolean;
  /**
   * For a large batch job beside a full JS heap: one thread (each keeps its own scan and sort buffers), results in
   * any order unless the query says ORDER BY, no cache of the Parquet files read (each is read once or twice), and
   * the allocator gives freed memory back to the system after every task rather than keeping it for the next.
   */
  lean?: boolean;
}

const LEAN = {
  threads: '1',
  preserve_insertion_order: 'false',
  enable_external_file_cache: 'false',
  allocator_flush_threshold: '16MB',
  allocator_bulk_deallocation_flush_threshold: '16MB',
};

/**
 * Sorts and windows past `memoryLimit` spill to a temporary directory of this instance, removed at close with the
 * database file, if any.
 *
 * DuckDB is imported here, on first use, not with this module: only processes that train or write the lake open
 * one, and its native library (mapped, with its allocator's arenas) adds about 35 MB of RSS to every process that
 * merely imports it, a predictor or a gateway included.
 */
export async function openDuck(options: DuckOptions = {}): Promise<Duck> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const spill = path.join(tmpdir(), `etaserve-duck-${randomUUID()}`);
  if (options.onDisk) await mkdir(spill, { recursive: true });
  const instance = await DuckDBInstance.create(options.onDisk ? path.join(spill, 'etl.duckdb') : ':memory:', {
    temp_directory: spill,
    ...(options.memoryLimit ? { memory_limit: options.memoryLimit } : {}),
    ...(options.lean ? LEAN : {}),
  });
  const conn = await instance.connect();
  return {
    conn,
    async all<R>(sql: string): Promise<R[]> {
      const reader = await conn.runAndReadAll(sql);
      return reader.getRowObjectsJson() as unknown as R[];
    },
    async forEachChunk(sql, visit) {
      const result = await conn.stream(sql);
      const names = result.columnNames();
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) return;
        const columns = new Map<string, ReadonlyArray<number | string | boolean | null>>();
        visit((name) => {
          let values = columns.get(name);
          if (values === undefined) {
            const raw = chunk.getColumnValues(names.indexOf(name));
            values = raw.map(plain);
            columns.set(name, values);
          }
          return values;
        }, chunk.rowCount);
      }
    },
    close() {
      conn.closeSync();
      instance.closeSync();
      void rm(spill, { recursive: true, force: true });
    },
  };
}

/** BIGINT and DECIMAL (objects in the node API) as number; the rest as they come. */
function plain(v: unknown): number | string | boolean | null {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'object' && v !== null) return Number(String(v));
  return v as number | string | boolean | null;
}

export const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

const columnsSpec = (): string =>
  `{${Object.entries(EVENT_COLUMNS)
    .map(([k, t]) => `${k}: '${t}'`)
    .join(', ')}}`;

/**
 * Loads flat events into a DuckDB table through a temporary NDJSON file: DuckDB's JSON reader is much faster than
 * row-by-row inserts from JavaScript, and the explicit column types keep the schema independent of the data.
 */
export async function loadEvents(duck: Duck, table: string, events: readonly FlatEvent[]): Promise<void> {
  const dir = path.join(tmpdir(), `etaserve-duck-${randomUUID()}`);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'events.ndjson');
  try {
    const lines: string[] = [];
    for (const e of events) lines.push(JSON.stringify(e));
    await writeFile(file, lines.join('\n') + '\n');
    await duck.conn.run(
      `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = ${columnsSpec()})`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
