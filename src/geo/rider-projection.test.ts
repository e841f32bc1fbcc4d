import { describe, expect, it } from 'vitest';
import { MemoryEventLog, type EtaEvent } from '../events/index.js';
import { createLogger } from '../platform/index.js';
import { startRiderProjection } from './rider-projection.js';
import { RiderSupply } from './rider-supply.js';

describe('rider projection', () => {
  it('counts riders near a place from rider.location events', async () => {
    const log = new MemoryEventLog({ dedupeWindowMs: 3_600_000, dedupeMaxIds: 1000 });
    const supply = new RiderSupply({ resolution: 8, ttlMs: 600_000 });
    const sub = await startRiderProjection(log, supply, {
      replayMinutes: 10,
      pollMs: 5,
      logger: createLogger({ level: 'silent' }),
    });
    const now = Date.now();
    const ping = (rider: string, lat: number, available?: boolean): EtaEvent => ({
      event_id: `${rider}-${lat}`,
      type: 'rider.location',
      occurred_at: new Date(now).toISOString(),
      rider_id: rider,
      lat,
      lng: 2.35,
      ...(available === undefined ? {} : { available }),
    });
    await log.append([
      ping('r1', 48.85),
      ping('r2', 48.8502),
      ping('r3', 48.8501, false),
      ping('far', 48.95),
    ]);
    await sub.caughtUp();
    await sub.close();
    expect(supply.ridersNear({ lat: 48.85, lng: 2.35 }, now)).toBe(2);
    expect(supply.size).toBe(4);
  });
});
