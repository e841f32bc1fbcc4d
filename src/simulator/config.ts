import { Type, type Static } from 'typebox';

/** The `simulator` section: the simulated city behind the demo and the default model. */
export const simulatorConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Drive live ETA requests from the simulated city' }),
    seed: Type.Integer({
      default: 42,
      minimum: 0,
      maximum: 4294967295,
      description: 'Seed of the city and its history',
    }),
    stores: Type.Integer({ default: 300, minimum: 1, maximum: 100_000, description: 'Stores in the city' }),
    days: Type.Integer({
      default: 28,
      minimum: 1,
      maximum: 365,
      description: 'Days of simulated history to train the first model on',
    }),
    ordersPerDay: Type.Integer({
      default: 2000,
      minimum: 10,
      maximum: 1_000_000,
      description: 'Average orders per day in the history',
    }),
    liveRequestsPerSecond: Type.Number({
      default: 20,
      minimum: 0,
      maximum: 100_000,
      description: 'Live ETA requests per second',
    }),
  },
  { default: {} },
);

export type SimulatorConfig = Static<typeof simulatorConfigSchema>;
