import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isEtaError } from '../platform/index.js';
import { decodeCursor, encodeCursor } from './catalog.js';
import { openSqliteCatalog, type SqliteCatalog } from './sqlite-catalog.js';
import type { NewStore } from './types.js';

const store = (id: string): NewStore => ({
  storeId: id,
  name: `Store ${id}`,
  location: { lat: 48.85, lng: 2.35 },
  category: 'pizza',
  timezone: 'Europe/Paris',
  openingHours: {},
  deliveryRadiusKm: 5,
  prepProfile: { meanSeconds: 600, p90Seconds: 900 },
});

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => (isEtaError(e) ? `${e.code}:${e.field}` : String(e)),
  );

describe('cursors', () => {
  it('round-trip and look opaque', () => {
    const c = encodeCursor('s-042');
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(c).not.toContain('s-042');
    expect(decodeCursor(c)).toBe('s-042');
  });

  it.each(['', 'not a cursor', Buffer.from('s-042').toString('base64url'), 'czE6'])('refuse %j', (bad) => {
    expect(() => decodeCursor(bad)).toThrow(
      expect.objectContaining({ code: 'bad_request', field: 'cursor' }),
    );
  });
});

describe('keyset pagination', () => {
  let catalog: SqliteCatalog;
  beforeEach(async () => {
    catalog = await openSqliteCatalog(':memory:', { maxPageSize: 10 });
    await catalog.upsertMany(Array.from({ length: 25 }, (_, i) => store(`s-${String(i).padStart(3, '0')}`)));
  });
  afterEach(() => catalog.close());

  it('walks every store once, in id order', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await catalog.list({ limit: 10, cursor });
      seen.push(...page.stores.map((s) => s.storeId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(25);
  });

  it('has no next cursor when the last page is exactly full', async () => {
    const first = await catalog.list({ limit: 10 });
    const second = await catalog.list({ limit: 10, cursor: first.nextCursor });
    const third = await catalog.list({ limit: 5, cursor: second.nextCursor });
    expect(third.stores).toHaveLength(5);
    expect(third.nextCursor).toBeNull();
  });

  it('is stable when stores are added before the cursor', async () => {
    const first = await catalog.list({ limit: 10 });
    await catalog.create(store('a-first'));
    const second = await catalog.list({ limit: 10, cursor: first.nextCursor });
    expect(second.stores[0]!.storeId).toBe('s-010');
  });

  it('caps the page size and refuses bad limits and cursors', async () => {
    expect((await catalog.list({ limit: 1000 })).stores).toHaveLength(10);
    expect(await codeOf(catalog.list({ limit: 0 }))).toBe('bad_request:limit');
    expect(await codeOf(catalog.list({ cursor: 'garbage!' }))).toBe('bad_request:cursor');
  });
});
