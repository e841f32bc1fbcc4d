import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

/** A CSV file (gzip-compressed when it ends in .gz) as header names and string rows; RFC 4180 quoting. */
export async function readCsv(file: string): Promise<{ header: string[]; rows: string[][] }> {
  let buf = await readFile(file);
  if (file.endsWith('.gz')) buf = gunzipSync(buf);
  const text = buf.toString('utf8').replace(/^\uFEFF/, '');
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  const header = (rows.shift() ?? []).map((h) => h.trim());
  return { header, rows };
}
