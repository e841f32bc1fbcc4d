import { describe, expect, it } from 'vitest';
import { driftOf, zoneAlarmsOf } from './accuracy';

describe('drift figures as the Accuracy view reads them', () => {
  it('keeps plain PSI numbers as before', () => {
    expect(driftOf({ psi: { hour_local: 0.3, items: 0.01 } })).toEqual({
      hour_local: { psi: 0.3 },
      items: { psi: 0.01 },
    });
  });

  it('reads the verdict and sample counts, as a record or an array, under psi or drift.features', () => {
    expect(
      driftOf({
        drift: {
          features: {
            hour_local: { psi: 0.4, status: 'insufficient', samples: 12, min_samples: 200 },
            zone_speed_kmh: { psi: 0.31, status: 'drift', samples: 900, min_samples: 200 },
          },
        },
      }),
    ).toEqual({
      hour_local: { psi: 0.4, status: 'insufficient', samples: 12, minSamples: 200 },
      zone_speed_kmh: { psi: 0.31, status: 'drift', samples: 900, minSamples: 200 },
    });
    expect(
      driftOf({
        psi: [{ feature: 'items', psi: null, status: 'insufficient', samples: 3, min_samples: 50 }],
      }),
    ).toEqual({ items: { psi: null, status: 'insufficient', samples: 3, minSamples: 50 } });
  });

  it('ignores what is no drift figure', () => {
    expect(driftOf({ psi: { a: 'x', b: { status: 'unknown' } } })).toEqual({});
    expect(driftOf(null)).toEqual({});
  });
});

describe('zone prep alarms as the Accuracy view reads them', () => {
  it("reads the summary's zone_alarms, and none when the server sends none", () => {
    const body = {
      zone_alarms: [
        {
          zone: '871fb4662ffffff',
          orders: 30,
          baseline_prep_s: 720,
          recent_prep_s: 1090,
          message: 'zone 871fb4662ffffff: prep 18.2 min over its last 30 orders, 12.0 min in its week before',
        },
      ],
    };
    expect(zoneAlarmsOf(body)).toEqual([
      {
        zone: '871fb4662ffffff',
        orders: 30,
        baselinePrepS: 720,
        recentPrepS: 1090,
        message: 'zone 871fb4662ffffff: prep 18.2 min over its last 30 orders, 12.0 min in its week before',
      },
    ]);
    expect(zoneAlarmsOf({})).toEqual([]);
    expect(zoneAlarmsOf(null)).toEqual([]);
  });
});
