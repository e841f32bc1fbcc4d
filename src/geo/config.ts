import { Type, type Static } from 'typebox';

/** The `geo` section. */
export const geoConfigSchema = Type.Object(
  {
    port: Type.Integer({
      default: 8092,
      minimum: 0,
      maximum: 65535,
      description: 'Port of the geo HTTP server when it runs alone',
    }),
    h3Resolution: Type.Integer({
      default: 7,
      minimum: 0,
      maximum: 15,
      description: 'H3 resolution of zones (speeds, rider supply); res 7 cells are about 5 km²',
    }),
    detourFactor: Type.Number({
      default: 1.3,
      minimum: 1,
      maximum: 3,
      description: 'Road distance over straight-line distance',
    }),
    defaultSpeedKmh: Type.Number({
      default: 18,
      exclusiveMinimum: 0,
      maximum: 120,
      description: 'Rider speed before any speeds are learned (scaled by hour band)',
    }),
    handoffSeconds: Type.Integer({
      default: 150,
      minimum: 0,
      maximum: 3600,
      description: 'Fixed overhead of a trip: leaving the store, parking and handing over at the door',
    }),
    timezone: Type.String({
      default: 'Europe/Paris',
      minLength: 1,
      description: 'Timezone of hour-of-week bands when the speeds file names none',
    }),
    riderTtlSeconds: Type.Integer({
      default: 300,
      minimum: 1,
      maximum: 3600,
      description:
        'A rider position older than this no longer counts toward supply (riders report every 4 minutes or sooner)',
    }),
    speedsFile: Type.String({
      default: '',
      description: "Learned zone speeds (JSON); '' means <dataDir>/geo/zone-speeds.json",
    }),
    speedsReloadMs: Type.Integer({
      default: 5000,
      minimum: 100,
      maximum: 3_600_000,
      description:
        "How often geo checks the champion's zone speeds in the registry (and the speeds file, for a champion registered without them); a promoted model brings its own speeds",
    }),
  },
  { default: {} },
);

export type GeoConfig = Static<typeof geoConfigSchema>;
