import { utcOffsetMs, type LatLng } from '../features/index.js';
import { buildCity, isOpen, offsetKm, type City, type SimulatedStore } from './city.js';
import { Rng } from './prng.js';
import { approxKm, buildFleet, nextAvailableMs, type Fleet } from './riders.js';
import { OrderTable } from './order-table.js';
import { pingsFor, pushTrack, type RiderPings, type RiderTracks } from './pings.js';
import {
  DAY_FACTOR,
  demandCdf,
  trueAcceptSeconds,
  trueDropoffSeconds,
  truePrepSeconds,
  trueRideSeconds,
} from './truth.js';

const DAY = 86_400_000;
const PLANNING_SPEED_KMH = 15;

export interface HistoryOptions {
  seed: number;
  days: number;
  stores: number;
  ordersPerDay: number;
  /** The history starts at the local midnight on or before this instant; default: `days` before now. */
  startMs?: number;
  center?: LatLng;
  timezone?: string;
  /** How often an on-shift rider reports a position (240 s). */
  pingIntervalSeconds?: number;
  /** Share of orders cancelled (0.025). */
  cancelRate?: number;
  /**
   * An injected change, for drift tests: kitchens of these stores take `factor` times as long for orders created from
   * `fromMs` on (the random draws are the same, so the history is unchanged before it).
   */
  prepShift?: { storeIds: readonly string[]; factor: number; fromMs: number };
}

/** One order with every lifecycle timestamp; null where the order never got there (cancelled). */
export interface SimulatedOrder {
  order_id: string;
  store_id: string;
  rider_id: string | null;
  destination: LatLng;
  items: number;
  subtotal: number;
  created_at_ms: number;
  accepted_at_ms: number | null;
  ready_at_ms: number | null;
  picked_up_at_ms: number | null;
  delivered_at_ms: number | null;
  cancelled: boolean;
  cancelled_at_ms: number | null;
}

export interface SimulatedHistory {
  city: City;
  stores: SimulatedStore[];
  /** In order of creation. */
  orders: OrderTable;
  riderPings: RiderPings;
  startMs: number;
  endMs: number;
}

/** UTC instants of the local midnights of `days` + 1 days, from the one on or before `startMs`. */
function localMidnights(timezone: string, startMs: number, days: number): Float64Array {
  const offset = utcOffsetMs(timezone, startMs);
  const firstLocal = Math.floor((startMs + offset) / DAY) * DAY;
  const out = new Float64Array(days + 1);
  for (let d = 0; d <= days; d++) {
    const local = firstLocal + d * DAY;
    out[d] = local - utcOffsetMs(timezone, local - offset + DAY / 2);
  }
  return out;
}

/**
 * Days of orders in a simulated city, in time order. Each order's kitchen, rider and ride follow the hidden rules
 * of `truth.ts`; the kitchen load and rider queue carry over from order to order, so rushes build up and drain.
 */
export function generateHistory(options: HistoryOptions): SimulatedHistory {
  const city = buildCity({
    seed: options.seed,
    stores: options.stores,
    center: options.center,
    timezone: options.timezone,
  });
  const rng = new Rng((options.seed ^ 0x5eed) + 1);
  const startMs = options.startMs ?? Date.now() - options.days * DAY;
  const midnights = localMidnights(city.timezone, startMs, options.days);
  const fleet = buildFleet(city, options.ordersPerDay, rng);
  const cancelRate = options.cancelRate ?? 0.025;
  const cdfs = [demandCdf(false), demandCdf(true)];
  const meanDayFactor = DAY_FACTOR.reduce((a, b) => a + b, 0) / 7;
  const kitchens: Array<number[]> = city.stores.map(() => []);
  const tracks: RiderTracks = fleet.ids.map(() => []);
  const orders = OrderTable.builder(Math.ceil(options.ordersPerDay * options.days * 1.1));

  for (let day = 0; day < options.days; day++) {
    const midnight = midnights[day]!;
    const dayLength = midnights[day + 1]! - midnight;
    const weekday =
      (new Date(midnight + utcOffsetMs(city.timezone, midnight + DAY / 2) + DAY / 2).getUTCDay() + 6) % 7;
    const weekend = weekday >= 5;
    const count = rng.poisson((options.ordersPerDay * DAY_FACTOR[weekday]!) / meanDayFactor);
    const minuteOfDay = new Float64Array(count);
    for (let i = 0; i < count; i++) minuteOfDay[i] = rng.pickCumulative(cdfs[weekend ? 1 : 0]!) + rng.next();
    minuteOfDay.sort();
    for (const minute of minuteOfDay) {
      const created = Math.round(midnight + (minute / 1440) * dayLength);
      const store = pickOpenStore(city, rng, weekday, minute);
      if (store < 0) continue;
      orders.push(
        simulateOrder(
          city,
          fleet,
          kitchens[store]!,
          tracks,
          rng,
          {
            store,
            created,
            hour: minute / 60,
            weekend,
            day,
            midnights,
            cancelRate,
            prepFactor:
              options.prepShift &&
              created >= options.prepShift.fromMs &&
              options.prepShift.storeIds.includes(city.stores[store]!.storeId)
                ? options.prepShift.factor
                : 1,
          },
          orders.length,
        ),
      );
    }
  }
  const riderPings = pingsFor(
    fleet,
    tracks,
    midnights,
    options.days,
    (options.pingIntervalSeconds ?? 240) * 1000,
  );
  return {
    city,
    stores: city.stores,
    orders: orders.finish(),
    riderPings,
    startMs: midnights[0]!,
    endMs: midnights[options.days]!,
  };
}

function pickOpenStore(city: City, rng: Rng, weekday: number, minute: number): number {
  for (let attempt = 0; attempt < 40; attempt++) {
    const store = rng.pickCumulative(city.popularity);
    if (isOpen(city, store, weekday, minute)) return store;
  }
  return -1;
}

interface OrderContext {
  store: number;
  created: number;
  hour: number;
  weekend: boolean;
  day: number;
  midnights: Float64Array;
  cancelRate: number;
  /** The injected prep shift (HistoryOptions.prepShift): 1 when none. */
  prepFactor: number;
}

function simulateOrder(
  city: City,
  fleet: Fleet,
  kitchen: number[],
  tracks: RiderTracks,
  rng: Rng,
  ctx: OrderContext,
  index: number,
): SimulatedOrder {
  const s = city.stores[ctx.store]!;
  const { created, hour, weekend } = ctx;
  // kitchen holds [acceptedAt, leavesKitchenAt] pairs
  let load = 0;
  let w = 0;
  for (let k = 0; k < kitchen.length; k += 2) {
    if (kitchen[k + 1]! <= created) continue;
    if (kitchen[k]! <= created) load++;
    kitchen[w++] = kitchen[k]!;
    kitchen[w++] = kitchen[k + 1]!;
  }
  kitchen.length = w;

  const r = s.deliveryRadiusKm * 0.95 * Math.sqrt(rng.next());
  const angle = rng.uniform(0, 2 * Math.PI);
  const dest = offsetKm(s.location, r * Math.cos(angle), r * Math.sin(angle));
  const destination = { lat: Math.round(dest.lat * 1e6) / 1e6, lng: Math.round(dest.lng * 1e6) / 1e6 };
  const items = 1 + rng.poisson(s.category === 'grocery' ? 4 : s.category === 'pizza' ? 1.6 : 1.2);
  const subtotal = Math.round(items * city.itemPrice[ctx.store]! * rng.lognormal(0, 0.15) * 100) / 100;
  const order: SimulatedOrder = {
    order_id: `o-${String(index + 1).padStart(7, '0')}`,
    store_id: s.storeId,
    rider_id: null,
    destination,
    items,
    subtotal,
    created_at_ms: created,
    accepted_at_ms: null,
    ready_at_ms: null,
    picked_up_at_ms: null,
    delivered_at_ms: null,
    cancelled: false,
    cancelled_at_ms: null,
  };
  const cancelled = rng.chance(ctx.cancelRate);
  if (cancelled && rng.chance(0.4)) {
    order.cancelled = true;
    order.cancelled_at_ms = created + Math.round(rng.uniform(30, 300) * 1000);
    return order;
  }
  const accepted = created + Math.round(trueAcceptSeconds(load, rng) * 1000);
  const ready =
    accepted +
    Math.round(
      truePrepSeconds(
        city.basePrepSeconds[ctx.store]!,
        load,
        city.kitchenCapacity[ctx.store]!,
        hour,
        items,
        rng,
      ) *
        ctx.prepFactor *
        1000,
    );
  order.accepted_at_ms = accepted;
  if (cancelled) {
    order.cancelled = true;
    order.cancelled_at_ms = Math.round(rng.uniform(accepted + 30_000, ready));
    kitchen.push(accepted, order.cancelled_at_ms);
    return order;
  }
  kitchen.push(accepted, ready);
  order.ready_at_ms = ready;

  // The dispatcher picks the rider who can reach the store first, and sends them to arrive about when food is ready.
  let best = -1;
  let bestArrival = Number.POSITIVE_INFINITY;
  let bestAvail = 0;
  for (let i = 0; i < fleet.ids.length; i++) {
    const avail = nextAvailableMs(fleet, i, accepted, ctx.midnights, ctx.day);
    if (avail - accepted > 4 * 3_600_000) continue;
    const arrival =
      avail + (approxKm(fleet.lat[i]!, fleet.lng[i]!, s.location) / PLANNING_SPEED_KMH) * 3_600_000;
    if (arrival < bestArrival) {
      bestArrival = arrival;
      best = i;
      bestAvail = avail;
    }
  }
  if (best < 0) {
    order.cancelled = true;
    order.cancelled_at_ms = ready + 15 * 60_000;
    return order;
  }
  const from = { lat: fleet.lat[best]!, lng: fleet.lng[best]! };
  const toStore = trueRideSeconds(city, from, s.location, hour, weekend, rng) * 1000;
  const depart = Math.max(bestAvail, ready - toStore - 60_000);
  const arrival = depart + toStore;
  const pickedUp = Math.round(Math.max(ready, arrival) + rng.uniform(20, 90) * 1000);
  const pickupHour = (hour + (pickedUp - created) / 3_600_000) % 24;
  const ride =
    trueRideSeconds(city, s.location, destination, pickupHour, weekend, rng) + trueDropoffSeconds(rng);
  const delivered = Math.round(pickedUp + ride * 1000);
  order.rider_id = fleet.ids[best]!;
  order.picked_up_at_ms = pickedUp;
  order.delivered_at_ms = delivered;
  pushTrack(
    tracks,
    best,
    {
      assignedMs: accepted,
      departMs: depart,
      arriveMs: arrival,
      pickedUpMs: pickedUp,
      deliveredMs: delivered,
    },
    from,
    s.location,
    destination,
  );
  fleet.freeAtMs[best] = delivered;
  fleet.lat[best] = destination.lat;
  fleet.lng[best] = destination.lng;
  return order;
}
