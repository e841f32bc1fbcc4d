/** Where a command writes for a person: lines on stdout, problems on stderr. */
export interface Output {
  log: (line: string) => void;
  error: (line: string) => void;
}

export const consoleOutput: Output = {
  log: (line) => process.stdout.write(`${line}\n`),
  error: (line) => process.stderr.write(`${line}\n`),
};

export interface Column {
  /** The row's field to show. */
  key: string;
  header: string;
  /** Numbers read best right-aligned; text is left-aligned (the default). */
  align?: 'left' | 'right';
  /** Cells longer than this are cut with an ellipsis (the table stays readable with long names). */
  maxWidth?: number;
  /** How to show the value; by default: '' for null/undefined, numbers as they are, objects as JSON. */
  format?: (value: unknown, row: Record<string, unknown>) => string;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) return value.join(',');
  return JSON.stringify(value);
}

// Width as a terminal shows it: code points, not UTF-16 units (an ellipsis or an accented name counts once).
const width = (s: string): number => [...s].length;

function fit(s: string, max: number | undefined): string {
  if (max === undefined || width(s) <= max) return s;
  return `${[...s].slice(0, Math.max(1, max - 1)).join('')}…`;
}

/** The table's lines: a header row, then one line per row, columns two spaces apart, no trailing blanks. */
export function formatTable(rows: Record<string, unknown>[], columns: Column[]): string[] {
  const cells = rows.map((row) =>
    columns.map((c) => fit(c.format ? c.format(row[c.key], row) : cell(row[c.key]), c.maxWidth)),
  );
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((r) => width(r[i]!))));
  const line = (values: string[]): string =>
    values
      .map((v, i) => {
        const pad = ' '.repeat(widths[i]! - width(v));
        return columns[i]!.align === 'right' ? pad + v : v + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)];
}

/** Prints rows as an aligned table with headers (an empty table prints its header only). */
export function printTable(
  rows: Record<string, unknown>[],
  columns: Column[],
  out: Pick<Output, 'log'> = consoleOutput,
): void {
  for (const line of formatTable(rows, columns)) out.log(line);
}

/** For scripts (`--json`): one JSON document, pretty-printed, nothing else on stdout. */
export function printJson(value: unknown, out: Pick<Output, 'log'> = consoleOutput): void {
  out.log(JSON.stringify(value, null, 2));
}
