import { shiftWindows, type Fleet } from './riders.js';

/**
 * Each rider's deliveries, packed: TRACK_FIELDS numbers a job, in assignment order. Sent at `depart` from `from`,
 * at the store at `arrive`, at the door at `delivered`. Numbers, not an object a job: a year of a city is a million.
 */
export type RiderTracks = number[][];
export const TRACK_FIELDS = 11;
const ASSIGNED = 0;
const DEPART = 1;
const ARRIVE = 2;
const PICKED_UP = 3;
const DELIVERED = 4;
const FROM = 5;
const STORE = 7;
const TO = 9;

export function pushTrack(
  tracks: RiderTracks,
  rider: number,
  t: { assignedMs: number; departMs: number; arriveMs: number; pickedUpMs: number; deliveredMs: number },
  from: { lat: number; lng: number },
  store: { lat: number; lng: number },
  to: { lat: number; lng: number },
): void {
  tracks[rider]!.push(
    t.assignedMs,
    t.departMs,
    t.arriveMs,
    t.pickedUpMs,
    t.deliveredMs,
    from.lat,
    from.lng,
    store.lat,
    store.lng,
    to.lat,
    to.lng,
  );
}

/** Rider positions as columns, in time order: millions of pings without an object each. */
/** Room for `count` pings of riders named by `riderIds`. */
export function allocatePings(riderIds: string[], count: number): RiderPings {
  return {
    riderIds,
    count,
    rider: new Int32Array(count),
    atMs: new Float64Array(count),
    lat: new Float64Array(count),
    lng: new Float64Array(count),
    available: new Uint8Array(count),
  };
}

export interface RiderPings {
  riderIds: string[];
  count: number;
  /** index into riderIds */
  rider: Int32Array;
  atMs: Float64Array;
  lat: Float64Array;
  lng: Float64Array;
  /** 1 = on shift and free */
  available: Uint8Array;
}

/** Where replayed pings go: the geo module's rider supply, in the training tables. */
export interface RiderLocationSink {
  recordRiderLocation(riderId: string, lat: number, lng: number, atMs: number, available: boolean): void;
}

/** Feeds `sink` the pings from index `from` that precede `untilMs`; returns the index of the first one left. */
export function replayPings(
  pings: RiderPings,
  from: number,
  untilMs: number,
  sink: RiderLocationSink,
): number {
  let p = from;
  for (; p < pings.count && pings.atMs[p]! < untilMs; p++) {
    sink.recordRiderLocation(
      pings.riderIds[pings.rider[p]!]!,
      pings.lat[p]!,
      pings.lng[p]!,
      pings.atMs[p]!,
      pings.available[p] === 1,
    );
  }
  return p;
}

/** One rider's pings, in time order: every `intervalMs` of each shift, riding in a straight line along each leg. */
class RiderCursor {
  day = -1;
  t = 0;
  private stop = 0;
  private job = 0;
  private lat: number;
  private lng: number;

  constructor(
    readonly rider: number,
    private readonly jobs: number[],
    private readonly fleet: Fleet,
    private readonly midnights: Float64Array,
    private readonly days: number,
    private readonly intervalMs: number,
  ) {
    this.lat = jobs[FROM]!;
    this.lng = jobs[FROM + 1]!;
  }

  /** Moves to the next ping time; false when the rider has no more. */
  next(): boolean {
    if (this.day >= 0) this.t += this.intervalMs;
    const end = this.midnights[this.days]!;
    while (this.day < 0 || this.t >= this.stop) {
      if (++this.day >= this.days) return false;
      const [s, e] = shiftWindows(this.fleet, this.rider, this.midnights[this.day]!);
      this.t = s + ((this.rider * 7919) % this.intervalMs);
      this.stop = Math.min(e, end);
    }
    return true;
  }

  /** The position and availability at `t`, written at `i` of the columns. */
  write(out: RiderPings, i: number): void {
    const { jobs, t } = this;
    const n = jobs.length / TRACK_FIELDS;
    while (this.job < n && jobs[this.job * TRACK_FIELDS + DELIVERED]! <= t) {
      this.lat = jobs[this.job * TRACK_FIELDS + TO]!;
      this.lng = jobs[this.job * TRACK_FIELDS + TO + 1]!;
      this.job++;
    }
    let lat = this.lat;
    let lng = this.lng;
    const j = this.job * TRACK_FIELDS;
    const busy = this.job < n && jobs[j + ASSIGNED]! <= t;
    if (this.job < n && t >= jobs[j + DEPART]!) {
      const leg = (a: number, b: number, t0: number, t1: number): void => {
        const f = Math.min(1, Math.max(0, (t - t0) / (t1 - t0)));
        lat = jobs[j + a]! + (jobs[j + b]! - jobs[j + a]!) * f;
        lng = jobs[j + a + 1]! + (jobs[j + b + 1]! - jobs[j + a + 1]!) * f;
      };
      if (t < jobs[j + ARRIVE]!) leg(FROM, STORE, jobs[j + DEPART]!, jobs[j + ARRIVE]!);
      else if (t < jobs[j + PICKED_UP]!) {
        lat = jobs[j + STORE]!;
        lng = jobs[j + STORE + 1]!;
      } else leg(STORE, TO, jobs[j + PICKED_UP]!, jobs[j + DELIVERED]!);
    }
    out.rider[i] = this.rider;
    out.atMs[i] = t;
    out.lat[i] = Math.round(lat * 1e6) / 1e6;
    out.lng[i] = Math.round(lng * 1e6) / 1e6;
    out.available[i] = busy ? 0 : 1;
  }
}

/**
 * Every on-shift rider reports every `intervalMs`. Each rider's pings come in time order, so a merge of the riders
 * (a heap on the next ping time, ties by rider) writes the columns in time order directly: counted first, then
 * filled, never held twice or sorted.
 */
export function pingsFor(
  fleet: Fleet,
  tracks: RiderTracks,
  midnights: Float64Array,
  days: number,
  intervalMs: number,
): RiderPings {
  const cursors = (): RiderCursor[] =>
    tracks
      .map((jobs, r) =>
        jobs.length > 0 ? new RiderCursor(r, jobs, fleet, midnights, days, intervalMs) : undefined,
      )
      .filter((c): c is RiderCursor => c !== undefined && c.next());
  let count = 0;
  for (const c of cursors())
    do count++;
    while (c.next());
  const out = allocatePings(fleet.ids, count);
  const heap = cursors();
  const before = (a: RiderCursor, b: RiderCursor): boolean => a.t < b.t || (a.t === b.t && a.rider < b.rider);
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  for (let i = 0; i < count; i++) {
    const c = heap[0]!;
    c.write(out, i);
    if (!c.next()) {
      const last = heap.pop()!;
      if (heap.length > 0) heap[0] = last;
    }
    down(0);
  }
  return out;
}
