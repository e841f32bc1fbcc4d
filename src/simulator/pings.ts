import type { LatLng } from '../features/index.js';
import { shiftWindows, type Fleet } from './riders.js';

/** One delivery of a rider: sent at `departMs` from `from`, at the store at `arriveMs`, at the door at `deliveredMs`. */
export interface RiderTrack {
  assignedMs: number;
  departMs: number;
  arriveMs: number;
  pickedUpMs: number;
  deliveredMs: number;
  from: LatLng;
  store: LatLng;
  to: LatLng;
}

/** Rider positions as columns, in time order: hundreds of thousands of pings without an object each. */
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

const lerp = (a: LatLng, b: LatLng, f: number): [number, number] => {
  const t = Math.min(1, Math.max(0, f));
  return [a.lat + (b.lat - a.lat) * t, a.lng + (b.lng - a.lng) * t];
};

/** Every on-shift rider reports every `intervalMs`, riding in a straight line along each leg of a job. */
export function pingsFor(
  fleet: Fleet,
  tracks: RiderTrack[][],
  midnights: Float64Array,
  days: number,
  intervalMs: number,
): RiderPings {
  const rider: number[] = [];
  const atMs: number[] = [];
  const lat: number[] = [];
  const lng: number[] = [];
  const available: number[] = [];
  const end = midnights[days]!;
  for (let r = 0; r < fleet.ids.length; r++) {
    const jobs = tracks[r]!;
    let j = 0;
    let pos: LatLng | undefined = jobs[0]?.from;
    if (!pos) continue;
    for (let d = 0; d < days; d++) {
      const [s, e] = shiftWindows(fleet, r, midnights[d]!);
      for (let t = s + ((r * 7919) % intervalMs); t < Math.min(e, end); t += intervalMs) {
        while (j < jobs.length && jobs[j]!.deliveredMs <= t) pos = jobs[j++]!.to;
        const job = jobs[j];
        let p: [number, number] = [pos.lat, pos.lng];
        const busy = job !== undefined && job.assignedMs <= t;
        if (job && t >= job.departMs) {
          if (t < job.arriveMs)
            p = lerp(job.from, job.store, (t - job.departMs) / (job.arriveMs - job.departMs));
          else if (t < job.pickedUpMs) p = [job.store.lat, job.store.lng];
          else p = lerp(job.store, job.to, (t - job.pickedUpMs) / (job.deliveredMs - job.pickedUpMs));
        }
        rider.push(r);
        atMs.push(t);
        lat.push(p[0]);
        lng.push(p[1]);
        available.push(busy ? 0 : 1);
      }
    }
  }
  const order = new Uint32Array(atMs.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => atMs[a]! - atMs[b]! || a - b);
  const out: RiderPings = {
    riderIds: fleet.ids,
    count: order.length,
    rider: new Int32Array(order.length),
    atMs: new Float64Array(order.length),
    lat: new Float64Array(order.length),
    lng: new Float64Array(order.length),
    available: new Uint8Array(order.length),
  };
  order.forEach((src, i) => {
    out.rider[i] = rider[src]!;
    out.atMs[i] = atMs[src]!;
    out.lat[i] = Math.round(lat[src]! * 1e6) / 1e6;
    out.lng[i] = Math.round(lng[src]! * 1e6) / 1e6;
    out.available[i] = available[src]!;
  });
  return out;
}
