import type { OpeningHours, Store } from './types.js';

/**
 * Stores share most of a profile besides its id, name and place: a city's thousands of stores open at a few dozen
 * distinct hours, in a time zone or two, under a handful of categories. Decoded one by one, a cache of 10,000
 * profiles holds 10,000 copies of each (about 1 KB of arrays per store, and as much again in the parsed intervals
 * `isOpen` keeps per hours object). These pools hand out one frozen copy instead. They are bounded: past the
 * bound a new pattern is returned as it is, unshared, so a catalog of all-different hours costs what it did.
 */
const MAX_SHARED = 4096;
const hoursByText = new Map<string, OpeningHours>();
const strings = new Map<string, string>();

/** The shared copy of the opening hours whose JSON is `text` (what the catalog stores and the API sends). */
export function sharedHours(text: string, parsed?: OpeningHours): OpeningHours {
  const known = hoursByText.get(text);
  if (known) return known;
  const hours = deepFreeze(parsed ?? (JSON.parse(text) as OpeningHours));
  if (hoursByText.size < MAX_SHARED) hoursByText.set(text, hours);
  return hours;
}

/** The shared copy of opening hours decoded on their own (their JSON is the pool's key). */
function sharedOpeningHours(hours: OpeningHours): OpeningHours {
  return sharedHours(JSON.stringify(hours), hours);
}

/** The shared copy of a short, repeated string (a time zone, a category). */
export function sharedString(value: string): string {
  const known = strings.get(value);
  if (known !== undefined) return known;
  if (strings.size < MAX_SHARED) strings.set(value, value);
  return value;
}

/** The store with its repeated parts shared: for a profile decoded from JSON, about to be cached. */
export function withSharedParts(store: Store): Store {
  return {
    ...store,
    category: sharedString(store.category),
    timezone: sharedString(store.timezone),
    openingHours: sharedOpeningHours(store.openingHours),
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
