/**
 * The project's open-loop load generator. `runLoad` runs one fixed-rate load in a separate generator process and
 * resolves with its result; `maxRateSearch` finds the highest rate that meets a latency target with no errors.
 */
export type {
  GeneratorUsage,
  LatencySummary,
  LoadOptions,
  LoadRequest,
  LoadResult,
  RequestSource,
  SourceFactory,
  SourceSpec,
  TargetResult,
  TimelinePoint,
} from './types.js';
export { runLoad } from './run-load.js';
export type { LoadHooks } from './run-load.js';
export { maxRateSearch, judgeStep } from './search.js';
export type { MaxRateOptions, MaxRateResult, RateStep, Slo } from './search.js';
export { formatResult, formatSteps } from './format.js';
export { decodeHistogram } from './histogram.js';
