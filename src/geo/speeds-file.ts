import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { err, ok, type Result } from '../platform/index.js';
import { ZoneSpeedTable, type ZoneSpeedTableJson } from './travel.js';

export function defaultSpeedsFile(dataDir: string): string {
  return path.join(dataDir, 'geo', 'zone-speeds.json');
}

export function speedsFileOf(dataDir: string, speedsFile: string): string {
  return speedsFile === '' ? defaultSpeedsFile(dataDir) : speedsFile;
}

/** Through a temporary file and a rename, so a geo process loading at the same moment never reads half a table. */
export async function saveZoneSpeeds(
  file: string,
  table: ZoneSpeedTableJson | ZoneSpeedTable,
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, JSON.stringify(table instanceof ZoneSpeedTable ? table.toJSON() : table));
  await rename(tmp, file);
}

/** `undefined` when the file does not exist; an error when it exists but is not a table. */
export async function loadZoneSpeeds(file: string): Promise<Result<ZoneSpeedTable | undefined, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(undefined);
    return err(`cannot read ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return err(`${file} is not JSON: ${(e as Error).message}`);
  }
  const table = ZoneSpeedTable.fromJSON(json);
  return table.ok ? ok(table.value) : err(`${file}: ${table.error}`);
}
