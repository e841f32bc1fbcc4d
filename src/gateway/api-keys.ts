import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
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
 * The revoke bound: the key file is looked at again at most this long after the last look, and whatever was
 * verified before a change is dropped when the change is seen. A key revoked (or expired) in any process sharing the
 * data directory stops working everywhere within this bound. A verified key is trusted no longer than this either.
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

/**
 * API keys hashed at rest in the data directory, shared by every gateway process of a local cluster. Keys are
 * random 192-bit secrets, so one SHA-256 is enough (no password stretching needed). The file is re-read when it
 * changes, so a key created by the CLI works at once.
 */
export class ApiKeyStore {
  private records = new Map<string, ApiKeyRecord>();
  /** inode, size and mtime of the file last read: a rename always changes the inode. */
  private signature = '';
  private lastCheck = 0;
  readonly file: string;
  /** Keys that live only in this process (demo, admin key file), by the SHA-256 of the key: never the key. */
  private readonly builtIn = new Map<string, Principal>();
  /** Told when the file changed but could not be read; the keys read before stay in force. */
  private readonly onDamage: (error: ApiKeyFileError) => void;
  private reportedDamage = '';
  /**
   * Keys verified in the last second, so a busy client's key is not hashed with SHA-256 on every request. Keyed by
   * two salted 53-bit hashes of the key, so no key is held here; emptied whenever the keys change.
   */
  private readonly verified = new Map<number, { check: number; principal: Principal; until: number }>();
  private readonly salts = [randomBytes(4).readUInt32LE(0), randomBytes(4).readUInt32LE(0)] as const;
  private generation = 0;

  constructor(dataDir: string, options: { onDamage?: (error: ApiKeyFileError) => void } = {}) {
    this.file = path.join(dataDir, 'api-keys.json');
    this.onDamage = options.onDamage ?? (() => undefined);
  }

  /**
   * Reads the key file now and refuses a damaged one (truncated, not JSON, wrong shape) with an error that names
   * it: a gateway must not start on keys it cannot read. Returns whether the file exists (false on a first start).
   */
  load(): boolean {
    this.lastCheck = Date.now();
    return this.read();
  }

  /**
   * The first start of a gateway outside the demo shapes: with no key file yet, an admin key is created (only its
   * hash is written) and returned, to be printed once. Undefined when the file exists.
   */
  createFirstAdminKey(): string | undefined {
    if (this.load()) return undefined;
    return this.create('admin (first start)', [...SCOPES]).key;
  }

  /** A key that lives only in this process (the demo key, the admin key file's): never written to disk. */
  addBuiltIn(key: string, scopes: readonly Scope[], rateLimitPerSecond: number | null, keyId = 'demo'): void {
    this.builtIn.set(sha256(key), { keyId, scopes, rateLimitPerSecond });
  }

  authenticate(key: string, nowMs = Date.now()): Principal | undefined {
    this.refresh(nowMs);
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
    this.refresh(nowMs);
    const record = this.records.get(match[1]!);
    if (!record || record.revokedAt) return undefined;
    if (record.expiresAt && Date.parse(record.expiresAt) <= nowMs) return undefined;
    if (!safeEqual(record.hash, sha256(match[2]!))) return undefined;
    return { keyId: record.id, scopes: record.scopes, rateLimitPerSecond: record.rateLimitPerSecond };
  }

  list(): ApiKeyRecord[] {
    this.refresh(Date.now(), true);
    return [...this.records.values()];
  }

  create(
    name: string,
    scopes: Scope[],
    rateLimitPerSecond: number | null = null,
  ): { record: ApiKeyRecord; key: string } {
    this.refresh(Date.now(), true);
    const material = newKeyMaterial();
    const record: ApiKeyRecord = {
      id: material.id,
      name,
      hash: sha256(material.secret),
      scopes,
      rateLimitPerSecond,
      createdAt: new Date().toISOString(),
      expiresAt: null,
      revokedAt: null,
    };
    this.records.set(record.id, record);
    this.save();
    return { record, key: material.key };
  }

  /** A new key with the same scopes; the old one stays valid for `overlapSeconds`. */
  rotate(id: string, overlapSeconds: number): { record: ApiKeyRecord; key: string } | undefined {
    this.refresh(Date.now(), true);
    const old = this.records.get(id);
    if (!old || old.revokedAt) return undefined;
    old.expiresAt = new Date(Date.now() + overlapSeconds * 1000).toISOString();
    return this.create(old.name, old.scopes, old.rateLimitPerSecond);
  }

  revoke(id: string): boolean {
    this.refresh(Date.now(), true);
    const record = this.records.get(id);
    if (!record) return false;
    record.revokedAt = new Date().toISOString();
    this.save();
    return true;
  }

  /**
   * Re-reads the file when it changed, at most every KEY_REFRESH_MS unless forced. Forced reads come before a
   * change (create, rotate, revoke, list) and refuse a damaged file, so a write never replaces keys it could not
   * read. Unforced reads (authentication) keep the keys read before and report the damage once.
   */
  private refresh(nowMs: number, force = false): void {
    if (!force && nowMs - this.lastCheck < KEY_REFRESH_MS) return;
    this.lastCheck = nowMs;
    try {
      this.read();
    } catch (e) {
      if (force || !(e instanceof ApiKeyFileError)) throw e;
      if (this.reportedDamage !== e.message) {
        this.reportedDamage = e.message;
        this.onDamage(e);
      }
    }
  }

  /** Reads the file if it changed; false when there is none. Throws ApiKeyFileError on a damaged one. */
  private read(): boolean {
    let signature: string;
    try {
      const st = statSync(this.file);
      signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new ApiKeyFileError(this.file, (e as Error).message);
    }
    if (signature === this.signature) return true;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      throw new ApiKeyFileError(this.file, (e as Error).message);
    }
    this.records = new Map(parseKeyFile(text, this.file).map((k) => [k.id, k]));
    this.signature = signature;
    this.reportedDamage = '';
    this.forgetVerified();
    return true;
  }

  /** A key created, rotated, revoked or read anew: what was verified before is verified again. */
  private forgetVerified(): void {
    this.generation++;
    this.verified.clear();
  }

  /** Atomic and durable: a crash leaves the old file or the new one, never a torn one. */
  private save(): void {
    writeFileAtomic(this.file, JSON.stringify({ keys: [...this.records.values()] }, null, 2));
    const st = statSync(this.file);
    this.signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
    this.forgetVerified();
  }
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
