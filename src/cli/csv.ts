import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** A CSV problem with the 1-based line it was found on. */
export class CsvError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
  }
}

export interface CsvTable {
  header: string[];
  rows: number;
  /** File line of each data row, for error messages. */
  lines: number[];
  /** Raw cells by column; numeric parsing is left to the caller, who knows which columns are categorical. */
  cells: string[][];
}

/** Splits one CSV line; double quotes may wrap a cell, with "" for a quote inside. */
export function splitCsvLine(line: string): string[] | null {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cell);
      cell = '';
    } else cell += ch;
  }
  if (quoted) return null;
  out.push(cell);
  return out;
}

/** Reads a CSV with a header line, streaming, so a large file is never held as one string. */
export async function readCsv(file: string): Promise<CsvTable> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let header: string[] | undefined;
  let cells: string[][] = [];
  let rows = 0;
  let lineNo = 0;
  const rowLines: number[] = [];
  for await (const raw of lines) {
    lineNo++;
    if (raw.trim() === '') continue;
    const parts = splitCsvLine(raw);
    if (!parts) throw new CsvError(file, lineNo, 'unterminated quoted cell');
    if (!header) {
      header = parts.map((h) => h.trim());
      const dup = header.find((h, i) => header!.indexOf(h) !== i);
      if (dup !== undefined) throw new CsvError(file, lineNo, `duplicate column ${JSON.stringify(dup)}`);
      cells = header.map(() => []);
      continue;
    }
    if (parts.length !== header.length) {
      throw new CsvError(file, lineNo, `expected ${header.length} cells, found ${parts.length}`);
    }
    for (let c = 0; c < parts.length; c++) cells[c]!.push(parts[c]!.trim());
    rowLines.push(lineNo);
    rows++;
  }
  if (!header) throw new CsvError(file, Math.max(1, lineNo), 'empty file, expected a header line');
  return { header, rows, lines: rowLines, cells };
}

/** Empty cell = missing (NaN); anything else must be a number. Throws with the cell's line. */
export function numericColumn(file: string, table: CsvTable, col: number): Float64Array {
  const raw = table.cells[col]!;
  const out = new Float64Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i]!;
    if (s === '' || s === 'NaN') out[i] = NaN;
    else {
      const v = Number(s);
      if (!Number.isFinite(v)) {
        throw new CsvError(
          file,
          table.lines[i]!,
          `column ${table.header[col]}: not a number: ${JSON.stringify(s)}`,
        );
      }
      out[i] = v;
    }
  }
  return out;
}

/** Quotes a cell only when it needs it. */
export function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
