import { describe, expect, it } from 'vitest';
import { EtaError } from '../platform/index.js';
import { openSqliteCatalog } from './sqlite-catalog.js';
import { CachedCatalog } from './profile-cache.js';
import type { StoreCatalog } from './catalog.js';
import type { NewStore } from './types.js';

const store = (id: string, name = `Store ${id}`): NewStore => ({
  storeId: id,
  name,
  location: { lat: 1, lng: 1 },
  category: 'cafe',
  timezone: 'UTC',
  openingHours: {},
  deliveryRadiusKm: 2,
  prepProfile: { meanSeconds: 300, p90Seconds: 400 },
});

/** Counts reads, and can pretend the database is down. */
function spy(inner: StoreCatalog): StoreCatalog & { reads: number; down: boolean } {
  const s = Object.create(inner) as StoreCatalog & { reads: number; down: boolean };
  s.reads = 0;
  s.down = false;
  s.getMany = async (ids) => {
    if (s.down) throw new EtaError('database_unavailable', 'down');
    s.reads++;
    return inner.getMany(ids);
  };
  return s;
}

describe('CachedCatalog', () => {
  const setup = async () => {
    const db = spy(await openSqliteCatalog(':memory:', { maxPageSize: 10 }));
    const clock = { ms: 0 };
    const seen: string[] = [];
    const cached = new CachedCatalog(db, {
      size: 100,
      ttlMs: 1000,
      now: () => clock.ms,
      onLookup: (r) => seen.push(r),
    });
    await cached.upsertMany([store('a'), store('b')]);
    return { db, cached, clock, seen };
  };

  it('answers repeated reads from memory until the TTL', async () => {
    const { db, cached, clock, seen } = await setup();
    await cached.getMany(['a', 'b']);
    await cached.getMany(['a', 'b']);
    expect(await cached.get('a')).toMatchObject({ name: 'Store a' });
    expect(db.reads).toBe(1);
    clock.ms = 1000;
    await cached.get('a');
    expect(db.reads).toBe(2);
    expect(seen).toEqual(['miss', 'miss', 'hit', 'hit', 'hit', 'miss']);
  });

  it('drops an entry on every write through it', async () => {
    const { db, cached } = await setup();
    await cached.get('a');
    await cached.patch('a', { name: 'Renamed' });
    expect((await cached.get('a'))!.name).toBe('Renamed');
    await cached.delete('a');
    expect(await cached.get('a')).toBeUndefined();
    expect(db.reads).toBe(3);
  });

  it('serves stale profiles while the database is down, and fails for unseen ones', async () => {
    const { db, cached, clock, seen } = await setup();
    await cached.get('a');
    clock.ms = 60_000;
    db.down = true;
    expect(await cached.get('a')).toMatchObject({ storeId: 'a' });
    expect(seen.at(-1)).toBe('stale');
    await expect(cached.getMany(['a', 'b'])).rejects.toMatchObject({ code: 'database_unavailable' });
  });

  it('passes through with size 0', async () => {
    const db = spy(await openSqliteCatalog(':memory:', { maxPageSize: 10 }));
    const cached = new CachedCatalog(db, { size: 0, ttlMs: 1000 });
    await cached.create(store('a'));
    await cached.get('a');
    await cached.get('a');
    expect(db.reads).toBe(2);
    expect(cached.peek('a')).toBeUndefined();
  });
});
