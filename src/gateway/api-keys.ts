import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { EtaError } from '../platform/index.js';
import type { KeyBackend } from './key-backend.js';

export const SCOPES = ['predict', 'events', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** sha256 of the secret part; the secret itself is never stored. */
  hash: string;
  scopes: Scope[];
  rateLimitPerSecond: number | null;
  createdAt: string;
  /** A rotated-out key keeps working until then. */
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface Principal {
  keyId: string;
  scopes: readonly Scope[];
  rateLimitPerSecond: number | null;
  /** The key of the gateway's own warm-up: its requests are left out of request metrics and traffic. */
  warmUp?: boolean;
}

const KEY_FORMAT = /^es_([a-z0-9]{8})_([A-Za-z0-9_-]{32,64})$/;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** cyrb53: a fast 53-bit string hash, salted per process below; for cache keys, never for keys at rest. */
function cyrb53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * The revoke bound: the keys' backend (the file, or the database's change counter) is looked at again at most this
 * long after the last look, and whatever was verified before a change is dropped when the change is seen. A key
 * revoked (or expired) through any process of the deployment stops working everywhere within this bound. A verified
 * key is trusted no longer than this either.
 */
export const KEY_REFRESH_MS = 1000;
const VERIFIED_FOR_MS = KEY_REFRESH_MS;
const VERIFIED_MAX = 10_000;

export function newKeyMaterial(): { id: string; secret: string; key: string } {
  const id = randomBytes(6)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '0')
    .slice(0, 8)
    .padEnd(8, '0');
  const secret = randomBytes(24).toString('base64url');
  return { id, secret, key: `es_${id}_${secret}` };
}

/** The data directory's key file: one machine's gateways share it (the demo and SQLite shapes). */
export class FileKeyBackend implements KeyBackend {
  readonly kind = 'file' as const;
  readonly sync = true;
  readonly file: string;
  /** inode, size and mtime of the file last read: a rename always changes the inode. */
  private signature = '';

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'api-keys.json');
  }

  /** Throws ApiKeyFileError on a damaged file. */
  read(): ApiKeyRecord[] | 'unchanged' | 'missing' {
    let signature: string;
    try {
      const st = statSync(this.file);
      signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw new ApiKeyFileError(this.file, (e as Error).message);
    }
    if (signature === this.signature) return 'unchanged';
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      throw new ApiKeyFileError(this.file, (e as Error).message);
    }
    const records = parseKeyFile(text, this.file);
    this.signature = signature;
    return records;
  }

  /** Atomic and durable: a crash leaves the old file or the new one, never a torn one. */
  write(_changed: ApiKeyRecord[], all: ApiKeyRecord[]): void {
    writeFileAtomic(this.file, JSON.stringify({ keys: all }, null, 2));
    const st = statSync(this.file);
    this.signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
  }

  /** No file yet: the first start. Processes sharing one disk start one after the other (`etaserve up`). */
  bootstrap(record: ApiKeyRecord): boolean {
    // Not read(): records it returned here would be lost to the store's index.
    if (existsSync(this.file)) return false;
    this.write([record], [record]);
    return true;
  }

  close(): void {}
}

/** How often a database backend is polled: half the bound, so a poll's own latency stays within it. */
const POLL_MS = KEY_REFRESH_MS / 2;

/**
 * API keys hashed at rest, in a backend shared by every gateway of a deployment (the data directory's file, or
 * PostgreSQL), with an in-memory index that every request is verified against. Keys are random 192-bit secrets, so
 * one SHA-256 is enough (no password stretching needed). The index follows the backend within KEY_REFRESH_MS, so a
 * key created by the CLI or another gateway works within that, and a revoked one stops.
 */
export class ApiKeyStore {
  private records = new Map<string, ApiKeyRecord>();
  private lastCheck = 0;
  readonly backend: KeyBackend;
  /** Keys that live only in this process (demo, admin key file), by the SHA-256 of the key: never the key. */
  private readonly builtIn = new Map<string, Principal>();
  /** Told when the file changed but could not be read; the keys read before stay in force. */
  private readonly onDamage: (error: ApiKeyFileError) => void;
  /** Told when a database poll fails (once per distinct error) and when it works again (undefined). */
  private readonly onRefreshError: (error: Error | undefined) => void;
  private reportedDamage = '';
  /** A database backend that cannot be read: since when, and why; the keys loaded before stay in force. */
  private failing: { since: number; message: string } | undefined;
  private lastRead = 0;
  private poller: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  /**
   * Keys verified in the last second, so a busy client's key is not hashed with SHA-256 on every request. Keyed by
   * two salted 53-bit hashes of the key, so no key is held here; emptied whenever the keys change.
   */
  private readonly verified = new Map<number, { check: number; principal: Principal; until: number }>();
  private readonly salts = [randomBytes(4).readUInt32LE(0), randomBytes(4).readUInt32LE(0)] as const;
  private generation = 0;

  /** The key file, when the keys are in one. */
  get file(): string | undefined {
    return this.backend instanceof FileKeyBackend ? this.backend.file : undefined;
  }

  /** `where`: a data directory (its key file) or a backend. */
  constructor(
    where: string | KeyBackend,
    options: {
      onDamage?: (error: ApiKeyFileError) => void;
      onRefreshError?: (error: Error | undefined) => void;
    } = {},
  ) {
    this.backend = typeof where === 'string' ? new FileKeyBackend(where) : where;
    this.onDamage = options.onDamage ?? (() => undefined);
    this.onRefreshError = options.onRefreshError ?? (() => undefined);
  }

  /**
   * Reads the keys now and refuses a damaged file (truncated, not JSON, wrong shape) or an unreachable database with
   * an error that names it: a gateway must not start on keys it cannot read. Returns whether keys were ever stored
   * (false on a first start with the file).
   */
  async load(): Promise<boolean> {
    return this.readNow();
  }

  /**
   * The first start of a gateway outside the demo shapes: with no key stored yet, an admin key is created (only its
   * hash is written) and returned, to be printed once. Undefined when keys exist, or when another gateway starting
   * at the same time created it.
   */
  async createFirstAdminKey(): Promise<string | undefined> {
    await this.load();
    const { record, key } = newRecord('admin (first start)', [...SCOPES], null);
    if (!(await this.unavailable(() => this.backend.bootstrap(record)))) return undefined;
    this.records.set(record.id, record);
    this.forgetVerified();
    return key;
  }

  /** A key that lives only in this process (the demo key, the admin key file's, the warm-up's): never on disk. */
  addBuiltIn(
    key: string,
    scopes: readonly Scope[],
    rateLimitPerSecond: number | null,
    keyId = 'demo',
    warmUp = false,
  ): void {
    this.builtIn.set(sha256(key), { keyId, scopes, rateLimitPerSecond, ...(warmUp ? { warmUp } : {}) });
  }

  /** Ends a built-in key at once (the warm-up's): a request that presents it again is refused. */
  removeBuiltIn(key: string): void {
    this.builtIn.delete(sha256(key));
    this.forgetVerified();
  }

  authenticate(key: string, nowMs = Date.now()): Principal | undefined {
    this.refreshSync(nowMs);
    const id = cyrb53(key, this.salts[0]);
    const hit = this.verified.get(id);
    if (hit && nowMs < hit.until && hit.check === cyrb53(key, this.salts[1])) return hit.principal;
    const generation = this.generation;
    const principal = this.verify(key, nowMs);
    if (principal && generation === this.generation) {
      if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
      const expiresAt = this.expiryOf(principal);
      this.verified.set(id, {
        check: cyrb53(key, this.salts[1]),
        principal,
        until: Math.min(nowMs + VERIFIED_FOR_MS, expiresAt),
      });
    }
    return principal;
  }

  private expiryOf(principal: Principal): number {
    // Built-in ids (demo, admin-file) never look like a record id ([a-z0-9]{8}).
    const expiresAt = this.records.get(principal.keyId)?.expiresAt;
    return expiresAt ? Date.parse(expiresAt) : Infinity;
  }

  private verify(key: string, nowMs: number): Principal | undefined {
    // A map lookup by the key's SHA-256: timing can reveal something of a hash, never of the key.
    const builtIn = this.builtIn.get(sha256(key));
    if (builtIn) return builtIn;
    const match = KEY_FORMAT.exec(key);
    if (!match) return undefined;
    const record = this.records.get(match[1]!);
    if (!record || record.revokedAt) return undefined;
    if (record.expiresAt && Date.parse(record.expiresAt) <= nowMs) return undefined;
    if (!safeEqual(record.hash, sha256(match[2]!))) return undefined;
    return { keyId: record.id, scopes: record.scopes, rateLimitPerSecond: record.rateLimitPerSecond };
  }

  async list(): Promise<ApiKeyRecord[]> {
    await this.readNow();
    return [...this.records.values()];
  }

  async create(
    name: string,
    scopes: Scope[],
    rateLimitPerSecond: number | null = null,
  ): Promise<{ record: ApiKeyRecord; key: string }> {
    await this.readNow();
    const created = newRecord(name, scopes, rateLimitPerSecond);
    await this.change([created.record]);
    return created;
  }

  /** A new key with the same scopes; the old one stays valid for `overlapSeconds`. */
  async rotate(
    id: string,
    overlapSeconds: number,
  ): Promise<{ record: ApiKeyRecord; key: string } | undefined> {
    await this.readNow();
    const old = this.records.get(id);
    if (!old || old.revokedAt) return undefined;
    const expiring = { ...old, expiresAt: new Date(Date.now() + overlapSeconds * 1000).toISOString() };
    const created = newRecord(old.name, old.scopes, old.rateLimitPerSecond);
    await this.change([expiring, created.record]);
    return created;
  }

  /** The key stops working here at once, and at every other gateway within KEY_REFRESH_MS. */
  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    await this.readNow();
    const record = this.records.get(id);
    if (!record) return undefined;
    const revoked = { ...record, revokedAt: record.revokedAt ?? new Date().toISOString() };
    await this.change([revoked]);
    return revoked;
  }

  /** Stored first, then indexed: a write that fails leaves neither. */
  private async change(changed: ApiKeyRecord[]): Promise<void> {
    const all = new Map(this.records);
    for (const r of changed) all.set(r.id, r);
    await this.unavailable(() => this.backend.write(changed, [...all.values()]));
    this.records = all;
    this.forgetVerified();
  }

  /**
   * Reads the backend now. Comes before every change (create, rotate, revoke, list) and refuses a damaged file or an
   * unreachable database, so a write never replaces keys it could not read.
   */
  private async readNow(): Promise<boolean> {
    this.lastCheck = Date.now();
    return this.apply(await this.unavailable(() => this.backend.read()));
  }

  /** A database that cannot be reached answers 503 through the admin API, the cause in the message. */
  private async unavailable<T>(op: () => T | Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (this.backend.sync || e instanceof EtaError) throw e;
      throw new EtaError(
        'database_unavailable',
        `the API keys cannot be read or changed in ${this.backend.kind}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  private apply(result: ApiKeyRecord[] | 'unchanged' | 'missing'): boolean {
    this.lastRead = Date.now();
    if (result === 'missing') return false;
    if (result !== 'unchanged') {
      this.records = new Map(result.map((k) => [k.id, k]));
      this.reportedDamage = '';
      this.forgetVerified();
    }
    return true;
  }

  /**
   * A synchronous backend (the file) is re-read here when it changed, at most every KEY_REFRESH_MS; the keys read
   * before stay in force if it is damaged, and the damage is reported once.
   */
  private refreshSync(nowMs: number): void {
    if (!this.backend.sync || nowMs - this.lastCheck < KEY_REFRESH_MS) return;
    this.lastCheck = nowMs;
    try {
      this.apply(this.backend.read() as ApiKeyRecord[] | 'unchanged' | 'missing');
    } catch (e) {
      if (!(e instanceof ApiKeyFileError)) throw e;
      if (this.reportedDamage !== e.message) {
        this.reportedDamage = e.message;
        this.onDamage(e);
      }
    }
  }

  /**
   * Polls an asynchronous backend (a database) every POLL_MS until `stopRefresh`: one cheap read of the change
   * counter, the table only when it moved. While it cannot be read, the keys loaded before stay in force, new ones
   * wait, and `health` says so.
   */
  startRefresh(): void {
    if (this.backend.sync || this.poller) return;
    const tick = (): void => {
      this.polling = this.pollOnce().finally(() => {
        this.polling = undefined;
        if (this.poller) this.poller = setTimeout(tick, POLL_MS).unref();
      });
    };
    this.poller = setTimeout(tick, POLL_MS).unref();
  }

  private async pollOnce(): Promise<void> {
    try {
      this.lastCheck = Date.now();
      this.apply(await this.backend.read());
      if (this.failing) {
        this.failing = undefined;
        this.onRefreshError(undefined);
      }
    } catch (e) {
      const message = (e as Error).message;
      if (this.failing?.message !== message) this.onRefreshError(e as Error);
      this.failing = { since: this.failing?.since ?? Date.now(), message };
    }
  }

  /** Stops polling and closes the backend. */
  async close(): Promise<void> {
    if (this.poller) clearTimeout(this.poller);
    this.poller = undefined;
    await this.polling;
    await this.backend.close();
  }

  /** Why the keys may be stale (a database that cannot be read), for readiness; undefined when they are not. */
  health(nowMs = Date.now()): { staleSeconds: number; reason?: string } {
    const staleSeconds = this.backend.sync ? 0 : Math.max(0, (nowMs - this.lastRead) / 1000);
    if (!this.failing) return { staleSeconds };
    return {
      staleSeconds,
      reason: `the API keys cannot be read from ${this.backend.kind} for ${Math.round(staleSeconds)} s (${this.failing.message}): the keys loaded before stay in force, new and revoked keys wait`,
    };
  }

  /** A key created, rotated, revoked or read anew: what was verified before is verified again. */
  private forgetVerified(): void {
    this.generation++;
    this.verified.clear();
  }
}

function newRecord(
  name: string,
  scopes: Scope[],
  rateLimitPerSecond: number | null,
): { record: ApiKeyRecord; key: string } {
  const material = newKeyMaterial();
  return {
    key: material.key,
    record: {
      id: material.id,
      name,
      hash: sha256(material.secret),
      scopes,
      rateLimitPerSecond,
      createdAt: new Date().toISOString(),
      expiresAt: null,
      revokedAt: null,
    },
  };
}

/** The key file cannot be read or is damaged; the message names the file and what to do. */
export class ApiKeyFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(
      `the API key file ${file} is damaged or unreadable (${reason}); restore it from a backup, or move it away to start with no keys (a new admin key is then created)`,
    );
    this.name = 'ApiKeyFileError';
  }
}

const HASH = /^[0-9a-f]{64}$/;
const isStringOrNull = (v: unknown): boolean => v === null || typeof v === 'string';

/** The records of a key file, every field checked: a file that is not exactly this shape is refused. */
export function parseKeyFile(text: string, file: string): ApiKeyRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ApiKeyFileError(file, `not JSON: ${(e as Error).message}`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(keys))
    throw new ApiKeyFileError(file, 'expected an object with a "keys" list');
  keys.forEach((k: unknown, i) => {
    const r = k as Record<string, unknown> | null;
    const bad = (what: string): never => {
      throw new ApiKeyFileError(file, `keys[${i}]: ${what}`);
    };
    if (typeof r !== 'object' || r === null) return bad('not an object');
    if (typeof r.id !== 'string' || !/^[a-z0-9]{8}$/.test(r.id)) bad('id');
    if (typeof r.name !== 'string') bad('name');
    if (typeof r.hash !== 'string' || !HASH.test(r.hash)) bad('hash');
    if (!Array.isArray(r.scopes) || !r.scopes.every((s) => (SCOPES as readonly unknown[]).includes(s)))
      bad('scopes');
    if (
      r.rateLimitPerSecond !== null &&
      !(Number.isInteger(r.rateLimitPerSecond) && (r.rateLimitPerSecond as number) > 0)
    )
      bad('rateLimitPerSecond');
    if (typeof r.createdAt !== 'string') bad('createdAt');
    if (!isStringOrNull(r.expiresAt)) bad('expiresAt');
    if (!isStringOrNull(r.revokedAt)) bad('revokedAt');
  });
  return keys as ApiKeyRecord[];
}

/** Test seam: the file operations of an atomic write, so a test can make one fail on the real code path. */
export const keyFileIo = { openSync, writeSync, fsyncSync, closeSync, renameSync };

/** temp file in the same directory, write, fsync, rename over the target, fsync the directory. */
export function writeFileAtomic(file: string, text: string): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = keyFileIo.openSync(tmp, 'w', 0o600);
    try {
      keyFileIo.writeSync(fd, text);
      keyFileIo.fsyncSync(fd);
    } finally {
      keyFileIo.closeSync(fd);
    }
    keyFileIo.renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  // The rename is durable only once the directory is.
  const dirFd = keyFileIo.openSync(dir, 'r');
  try {
    keyFileIo.fsyncSync(dirFd);
  } finally {
    keyFileIo.closeSync(dirFd);
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function newDemoKey(): string {
  return newKeyMaterial().key;
}
