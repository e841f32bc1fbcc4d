/** The 10,000 stores of the mix as an `etaserve stores import` JSONL file: always open, radius past the mix's 12 km. */
import { writeFileSync } from 'node:fs';
import { createMix, MARKETS } from '../peak/mix.js';

const TIMEZONES: Record<string, string> = {
  lisbon: 'Europe/Lisbon',
  madrid: 'Europe/Madrid',
  berlin: 'Europe/Berlin',
  warsaw: 'Europe/Warsaw',
  athens: 'Europe/Athens',
  istanbul: 'Europe/Istanbul',
};
const CATEGORIES = ['pizza', 'burger', 'sushi', 'indian', 'chinese', 'salad', 'dessert', 'grocery'];

export function writeMixStores(file: string, seed = 42, stores = 10_000): number {
  const mix = createMix({ stores, seed });
  const lines = mix.stores.map((s, i) =>
    JSON.stringify({
      store_id: s.id,
      name: `Bench store ${i + 1}`,
      location: { lat: s.lat, lng: s.lng },
      category: CATEGORIES[i % CATEGORIES.length],
      timezone: TIMEZONES[MARKETS[s.market]!.name],
      opening_hours: {},
      delivery_radius_km: 15,
      prep_profile: { mean_seconds: 600 + (i % 20) * 30, p90_seconds: 1200 + (i % 20) * 45 },
    }),
  );
  writeFileSync(file, lines.join('\n') + '\n');
  return lines.length;
}
