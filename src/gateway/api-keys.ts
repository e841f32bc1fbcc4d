import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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

/** How long a verified key is trusted without hashing it again; the key file is re-read every second anyway. */
const VERIFIED_FOR_MS = 1000;
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
  private mtimeMs = -1;
  private lastCheck = 0;
  private readonly file: string;
  private readonly builtIn = new Map<string, { hash: string; principal: Principal }>();
  /**
   * Keys verified in the last second, so a busy client's key is not hashed with SHA-256 on every request. Keyed by
   * two salted 53-bit hashes of the key, so no key is held here; emptied whenever the keys change.
   */
  private readonly verified = new Map<number, { check: number; principal: Principal; until: number }>();
  private readonly salts = [randomBytes(4).readUInt32LE(0), randomBytes(4).readUInt32LE(0)] as const;
  private generation = 0;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'api-keys.json');
  }

  /** A key that lives only in this process (the demo key): never written to disk. */
  addBuiltIn(key: string, scopes: readonly Scope[], rateLimitPerSecond: number): void {
    this.builtIn.set(key.slice(0, 64), {
      hash: sha256(key),
      principal: { keyId: 'demo', scopes, rateLimitPerSecond },
    });
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
    const expiresAt = this.records.get(principal.keyId)?.expiresAt;
    return expiresAt && principal.keyId !== 'demo' ? Date.parse(expiresAt) : Infinity;
  }

  private verify(key: string, nowMs: number): Principal | undefined {
    const builtIn = this.builtIn.get(key.slice(0, 64));
    if (builtIn && safeEqual(builtIn.hash, sha256(key))) return builtIn.principal;
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

  private refresh(nowMs: number, force = false): void {
    if (!force && nowMs - this.lastCheck < 1000) return;
    this.lastCheck = nowMs;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.file).mtimeMs;
    } catch {
      return;
    }
    if (mtimeMs === this.mtimeMs) return;
    const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { keys: ApiKeyRecord[] };
    this.records = new Map(parsed.keys.map((k) => [k.id, k]));
    this.mtimeMs = mtimeMs;
    this.forgetVerified();
  }

  /** A key created, rotated, revoked or read anew: what was verified before is verified again. */
  private forgetVerified(): void {
    this.generation++;
    this.verified.clear();
  }

  private save(): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ keys: [...this.records.values()] }, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
    this.mtimeMs = statSync(this.file).mtimeMs;
    this.forgetVerified();
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
