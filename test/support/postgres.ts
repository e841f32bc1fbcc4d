import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { findBinary, POSTGRES_DIRS, requireBinary } from './binaries.js';

const run = promisify(execFile);

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/etaserve_test, trust auth */
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** initdb refuses to run as root: as root, every server command runs as the `postgres` user on a dir it owns. */
function asPostgresUser(dir: string): (cmd: string, args: string[]) => [string, string[]] {
  if (process.getuid?.() !== 0) return (cmd, args) => [cmd, args];
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  const runuser = findBinary('runuser', ['/usr/sbin', '/sbin']);
  if (runuser) return (cmd, args) => [runuser, ['-u', 'postgres', '--', cmd, ...args]];
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return (cmd, args) => ['su', ['postgres', '-c', [cmd, ...args].map(quote).join(' ')]];
}

/**
 * A real, throwaway PostgreSQL server from the binaries on this machine (initdb, pg_ctl), on a free port, with fsync
 * off and a fresh database. Undefined (after a loud warning) when PostgreSQL is not installed; under CI=true that
 * fails instead. `stop` kills it and removes its directory.
 */
export async function startPostgres(): Promise<TestPostgres | undefined> {
  const initdb = requireBinary('initdb', 'the PostgreSQL tests', POSTGRES_DIRS);
  if (!initdb) return undefined;
  const pgCtl = path.join(path.dirname(initdb), 'pg_ctl');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const as = asPostgresUser(dir);
  const exec = (cmd: string, args: string[]): ReturnType<typeof run> => {
    const [file, argv] = as(cmd, args);
    return run(file, argv, { timeout: 120_000 });
  };

  const stopSync = (): void => {
    try {
      const [file, argv] = as(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      execFileSync(file, argv, { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test run that dies must not leave a server behind.
  process.once('exit', stopSync);

  try {
    await exec(initdb, [
      '-D',
      data,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
      try {
        await exec(pgCtl, ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '60', 'start']);
        break;
      } catch (e) {
        // Another process may have taken the port between our probe and the server's bind.
        if (attempt >= 3) throw e;
      }
    }
    const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE etaserve_test');
    } finally {
      await admin.end();
    }
    return {
      url: `postgres://postgres@127.0.0.1:${port}/etaserve_test`,
      stop: async () => {
        process.removeListener('exit', stopSync);
        stopSync();
      },
    };
  } catch (e) {
    let log = '';
    try {
      log = readFileSync(logFile, 'utf8').slice(-2000);
    } catch {
      // no log yet
    }
    process.removeListener('exit', stopSync);
    stopSync();
    throw new Error(`could not start PostgreSQL: ${(e as Error).message}\n${log}`, { cause: e });
  }
}
