import { formatIsoWithOffset } from '../features/index.js';
import type { EtaPrediction } from '../predictor/index.js';
import type { GatewayConfig } from './config.js';

/**
 * Promised times are whole minutes and most answers of a minute share a few timezones, so the text of each
 * (timezone, minute) is made once; a timezone's map is emptied when it grows.
 */
const formatted = new Map<string, Map<number, string>>();

/** ISO 8601 in the store's own offset, e.g. 2026-11-26T19:42:00+01:00: what a customer there reads. */
export function isoInTimezone(epochMs: number, timezone: string): string {
  if (epochMs % 60_000 !== 0) return formatIsoWithOffset(epochMs, timezone);
  let minutes = formatted.get(timezone);
  if (!minutes) {
    minutes = new Map();
    formatted.set(timezone, minutes);
  }
  let text = minutes.get(epochMs);
  if (text === undefined) {
    text = formatIsoWithOffset(epochMs, timezone);
    if (minutes.size >= 1024) minutes.clear();
    minutes.set(epochMs, text);
  }
  return text;
}

export type PromisePolicy = Pick<
  GatewayConfig,
  'promiseQuantile' | 'promiseBufferSeconds' | 'promiseRoundMinutes'
>;

/** The time shown to the customer: a quantile of the prediction plus a buffer, rounded up to whole minutes. */
export function promisedAt(orderedAtMs: number, p: EtaPrediction, policy: PromisePolicy): string {
  const seconds = p[policy.promiseQuantile] + policy.promiseBufferSeconds;
  const step = policy.promiseRoundMinutes * 60_000;
  const at = Math.ceil((orderedAtMs + seconds * 1000) / step) * step;
  return isoInTimezone(at, p.timezone);
}
