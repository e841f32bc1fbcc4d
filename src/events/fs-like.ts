import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * The file operations the file log uses. Production passes node:fs/promises itself; a fault test passes a wrapper
 * that makes one call fail, so the code under test is the production path.
 */
export interface FsLike {
  open(file: string, flags: string): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  mkdir(dir: string, options: { recursive: true }): Promise<unknown>;
  readdir(dir: string): Promise<string[]>;
  stat(file: string): Promise<{ size: number; mtimeMs: number }>;
  rm(file: string, options: { force: true }): Promise<void>;
  readFile(file: string, encoding: 'utf8'): Promise<string>;
  writeFile(file: string, data: string): Promise<void>;
  truncate(file: string, length: number): Promise<void>;
  copyFile(from: string, to: string): Promise<void>;
}

export const nodeFs: FsLike = fs;

/** fsync of a directory, so a file created, renamed or deleted in it survives a power cut. */
export async function syncDir(fsl: FsLike, dir: string): Promise<void> {
  const handle = await fsl.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
