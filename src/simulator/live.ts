import { localTime, type LatLng } from '../features/index.js';
import { isOpen, offsetKm, type City } from './city.js';
import { Rng } from './prng.js';

/** What a customer's app asks at checkout: the gateway's ETA request, before it becomes JSON. */
export interface LiveEtaRequest {
  storeId: string;
  destination: LatLng;
  items: number;
  subtotal: number;
  atMs: number;
}

export interface LiveCityOptions {
  ratePerSecond: number;
  /** Requests not yet answered beyond this are dropped, so a slow server is not buried (open-loop load). */
  maxInFlight?: number;
  tickMs?: number;
  seed?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

/**
 * Live traffic from the same city as the history: popular stores get most requests, only open stores are asked
 * about, and destinations fall within each store's radius. Poisson arrivals per tick, at the configured rate.
 */
export class LiveCity {
  private readonly rng: Rng;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private sent = 0;
  private dropped = 0;

  constructor(
    private readonly city: City,
    private readonly onRequest: (req: LiveEtaRequest) => Promise<void>,
    private readonly options: LiveCityOptions,
  ) {
    this.rng = new Rng(options.seed ?? Date.now() & 0x7fffffff);
  }

  start(): void {
    if (this.timer || this.options.ratePerSecond <= 0) return;
    const tickMs = this.options.tickMs ?? 100;
    this.timer = setInterval(() => this.tick(tickMs), tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get stats(): { sent: number; dropped: number; inFlight: number } {
    return { sent: this.sent, dropped: this.dropped, inFlight: this.inFlight };
  }

  /** One request as of `atMs`, or undefined when every store drawn was closed. */
  nextRequest(atMs: number): LiveEtaRequest | undefined {
    const t = localTime(this.city.timezone, atMs);
    for (let attempt = 0; attempt < 40; attempt++) {
      const i = this.rng.pickCumulative(this.city.popularity);
      if (!isOpen(this.city, i, t.weekday, t.minuteOfDay)) continue;
      const store = this.city.stores[i]!;
      const r = store.deliveryRadiusKm * 0.95 * Math.sqrt(this.rng.next());
      const angle = this.rng.uniform(0, 2 * Math.PI);
      const d = offsetKm(store.location, r * Math.cos(angle), r * Math.sin(angle));
      const items = 1 + this.rng.poisson(1.4);
      const subtotal = Math.round(items * this.city.itemPrice[i]! * this.rng.lognormal(0, 0.15) * 100) / 100;
      return {
        storeId: store.storeId,
        destination: { lat: round6(d.lat), lng: round6(d.lng) },
        items,
        subtotal,
        atMs,
      };
    }
    return undefined;
  }

  private tick(tickMs: number): void {
    const now = this.options.now?.() ?? Date.now();
    const n = this.rng.poisson((this.options.ratePerSecond * tickMs) / 1000);
    const maxInFlight = this.options.maxInFlight ?? 256;
    for (let k = 0; k < n; k++) {
      if (this.inFlight >= maxInFlight) {
        this.dropped++;
        continue;
      }
      const req = this.nextRequest(now);
      if (!req) continue;
      this.inFlight++;
      this.sent++;
      this.onRequest(req)
        .catch((e: unknown) => this.options.onError?.(e))
        .finally(() => this.inFlight--);
    }
  }
}

const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;
