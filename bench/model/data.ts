// Benchmark tables from the shared development datasets (read in place, never copied into the repo).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { FeatureSpec, TrainingData } from '../../src/model/index.js';

export interface Table {
  name: string;
  spec: FeatureSpec[];
  /** Row-wise features in spec order, already in time order. */
  rows: number[][];
  target: number[];
  targetUnit: string;
  /**
   * When each order was placed and when its outcome became known, in minutes on one clock per table. Not
   * features: they let an online method replay outcomes in the order a live system would have seen them.
   */
  placed: number[];
  delivered: number[];
}

export interface OrderTimes {
  placed: Float64Array;
  delivered: Float64Array;
}

export interface Split {
  train: TrainingData;
  valid: TrainingData;
  test: TrainingData;
  times: { valid: OrderTimes; test: OrderTimes };
}

function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  // The datasets have no quoted commas.
  return { header: lines[0]!.split(','), rows: lines.slice(1).map((l) => l.split(',')) };
}

/** Category codes in order of first appearance; empty stays missing. */
class Codes {
  readonly seen: string[] = [];
  code(s: string | undefined): number {
    const v = (s ?? '').trim();
    if (v === '' || v === 'NaN') return NaN;
    let k = this.seen.indexOf(v);
    if (k < 0) k = this.seen.push(v) - 1;
    return k;
  }
}

const num = (s: string | undefined): number => (s === undefined || s.trim() === '' ? NaN : Number(s));

function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const a =
    Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 12742 * Math.asin(Math.sqrt(a));
}

/** Food delivery India (joined table): features known when the order is placed; target minutes. */
export function foodIndia(dataDir: string): Table {
  const { header, rows } = parseCsv(
    gunzipSync(readFileSync(`${dataDir}/food-delivery-india/food_delivery_india_joined.csv.gz`)).toString(
      'utf8',
    ),
  );
  const c = (name: string) => header.indexOf(name);
  const cats = {
    weather: new Codes(),
    traffic: new Codes(),
    order: new Codes(),
    vehicle: new Codes(),
    city: new Codes(),
    cityCode: new Codes(),
  };
  const recs = rows.map((r) => {
    const date = r[c('Order_Date')]!;
    const time = r[c('Time_Orderd')]!;
    const t = Date.parse(`${date}T${time && time !== 'NaN' ? time : '00:00:00'}Z`);
    const [rlat, rlon, dlat, dlon] = [
      'Restaurant_latitude',
      'Restaurant_longitude',
      'Delivery_location_latitude',
      'Delivery_location_longitude',
    ].map((k) => Math.abs(num(r[c(k)])));
    const known = rlat! > 1 && rlon! > 1;
    const hour = time && time !== 'NaN' ? Number(time.slice(0, 2)) + Number(time.slice(3, 5)) / 60 : NaN;
    const courier = r[c('Delivery_person_ID')] ?? '';
    return {
      t,
      timeKnown: Boolean(time && time !== 'NaN'),
      y: num(r[c('Time_taken(min)')]),
      x: [
        num(r[c('Delivery_person_Age')]),
        num(r[c('Delivery_person_Ratings')]),
        known ? rlat! : NaN,
        known ? rlon! : NaN,
        known ? haversineKm(rlat!, rlon!, dlat!, dlon!) : NaN,
        hour,
        new Date(t).getUTCDay(),
        cats.weather.code(r[c('Weatherconditions')]),
        cats.traffic.code(r[c('Road_traffic_density')]),
        cats.order.code(r[c('Type_of_order')]),
        cats.vehicle.code(r[c('Type_of_vehicle')]),
        cats.city.code(r[c('City')]),
        cats.cityCode.code(courier.split('RES')[0]),
      ],
    };
  });
  const ok = recs.filter((r) => Number.isFinite(r.t) && Number.isFinite(r.y)).sort((a, b) => a.t - b.t);
  const n = (name: string): FeatureSpec => ({ name, type: 'numeric' });
  const k = (name: string, codes: Codes): FeatureSpec => ({
    name,
    type: 'categorical',
    categories: codes.seen,
  });
  return {
    name: 'food-delivery-india',
    spec: [
      n('courier_age'),
      n('courier_rating'),
      n('restaurant_lat'),
      n('restaurant_lon'),
      n('distance_km'),
      n('order_hour'),
      n('weekday'),
      k('weather', cats.weather),
      k('traffic', cats.traffic),
      k('order_type', cats.order),
      k('vehicle', cats.vehicle),
      k('area', cats.city),
      k('city', cats.cityCode),
    ],
    rows: ok.map((r) => r.x),
    target: ok.map((r) => r.y),
    targetUnit: 'minutes',
    placed: ok.map((r) => r.t / 60_000),
    // An order without a time sorts at midnight; its outcome counts as known only once its day is over.
    delivered: ok.map((r) => r.t / 60_000 + (r.timeKnown ? r.y : 1440)),
  };
}

/** "DD HH:MM:SS" (UTC) as minutes since the start of the month. */
function minutes(s: string | undefined): number {
  const m = /^(\d+) (\d+):(\d+):(\d+)$/.exec((s ?? '').trim());
  return m ? (Number(m[1]) - 1) * 1440 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 60 : NaN;
}

/**
 * DoorDash one month, on-demand orders. Besides order fields, point-in-time restaurant history: only
 * orders delivered before this one was placed count (no leakage from the future).
 */
export function doordash(dataDir: string): Table {
  const { header, rows } = parseCsv(
    readFileSync(`${dataDir}/doordash-bizops-1month/doordash_bizops_deliveries_1month.csv`, 'utf8'),
  );
  const c = (name: string) => header.indexOf(name);
  const region = new Codes();
  const orders = rows
    .filter((r) => r[c('Is ASAP')] === 'True')
    .map((r) => {
      const placed = minutes(r[c('Customer placed order datetime')]);
      let delivered = minutes(r[c('Delivered to consumer datetime')]);
      if (delivered < placed) delivered += 31 * 1440;
      let atRestaurant = minutes(r[c('Driver at restaurant datetime')]);
      if (atRestaurant < placed) atRestaurant += 31 * 1440;
      return {
        r,
        placed,
        delivered,
        prep: atRestaurant - placed,
        rest: r[c('Restaurant ID')]!,
        reg: r[c('Delivery Region')] ?? '',
      };
    })
    // Over 5 hours is a data error or a reschedule, not an on-demand delivery time.
    .filter((o) => Number.isFinite(o.placed) && Number.isFinite(o.delivered) && o.delivered - o.placed <= 300)
    .sort((a, b) => a.placed - b.placed);
  const byDelivery = [...orders].sort((a, b) => a.delivered - b.delivered);
  const hist = new Map<string, { n: number; sum: number; prepN: number; prepSum: number }>();
  const recent = new Map<string, number[]>();
  const regionRecent = new Map<string, number[]>();
  let d = 0;
  const out = orders.map((o) => {
    for (; d < byDelivery.length && byDelivery[d]!.delivered <= o.placed; d++) {
      const p = byDelivery[d]!;
      const h = hist.get(p.rest) ?? { n: 0, sum: 0, prepN: 0, prepSum: 0 };
      h.n++;
      h.sum += p.delivered - p.placed;
      if (Number.isFinite(p.prep)) {
        h.prepN++;
        h.prepSum += p.prep;
      }
      hist.set(p.rest, h);
    }
    const h = hist.get(o.rest);
    const lastHour = (m: Map<string, number[]>, key: string): number => {
      const list = m.get(key) ?? [];
      while (list.length > 0 && list[0]! < o.placed - 60) list.shift();
      const count = list.length;
      list.push(o.placed);
      m.set(key, list);
      return count;
    };
    const r = o.r;
    const localHour = (((o.placed / 60) % 24) + 24 - 7) % 24;
    return [
      region.code(o.reg),
      localHour,
      Math.floor((o.placed - 7 * 60) / 1440) % 7,
      r[c('Is New')] === 'True' ? 1 : 0,
      num(r[c('Order total')]),
      num(r[c('Amount of discount')]),
      num(r[c('Amount of tip')]),
      h ? h.n : 0,
      h && h.n > 0 ? h.sum / h.n : NaN,
      h && h.prepN > 0 ? h.prepSum / h.prepN : NaN,
      lastHour(recent, o.rest),
      lastHour(regionRecent, o.reg),
    ];
  });
  const n = (name: string): FeatureSpec => ({ name, type: 'numeric' });
  return {
    name: 'doordash-bizops-1month',
    spec: [
      { name: 'region', type: 'categorical', categories: region.seen },
      n('local_hour'),
      n('day_index_mod7'),
      n('is_new_customer'),
      n('order_total'),
      n('discount'),
      n('tip'),
      n('restaurant_prior_deliveries'),
      n('restaurant_mean_delivery_min'),
      n('restaurant_mean_prep_min'),
      n('restaurant_orders_last_hour'),
      n('region_orders_last_hour'),
    ],
    rows: out,
    target: orders.map((o) => o.delivered - o.placed),
    targetUnit: 'minutes',
    placed: orders.map((o) => o.placed),
    delivered: orders.map((o) => o.delivered),
  };
}

/** Time-ordered 70/15/15 split: validation and test are always later than training. */
export function timeSplit(t: Table): Split {
  const n = t.rows.length;
  const a = Math.floor(n * 0.7);
  const b = Math.floor(n * 0.85);
  const part = (lo: number, hi: number): TrainingData => ({
    spec: t.spec,
    columns: t.spec.map((_, f) => Float64Array.from(t.rows.slice(lo, hi), (r) => r[f]!)),
    target: Float64Array.from(t.target.slice(lo, hi)),
  });
  const times = (lo: number, hi: number): OrderTimes => ({
    placed: Float64Array.from(t.placed.slice(lo, hi)),
    delivered: Float64Array.from(t.delivered.slice(lo, hi)),
  });
  return {
    train: part(0, a),
    valid: part(a, b),
    test: part(b, n),
    times: { valid: times(a, b), test: times(b, n) },
  };
}

export function toCsv(d: TrainingData): string {
  const lines = [[...d.spec.map((s) => s.name), 'y'].join(',')];
  for (let i = 0; i < d.target.length; i++) {
    lines.push(
      [...d.columns.map((c) => (Number.isNaN(c[i]!) ? '' : String(c[i]))), String(d.target[i])].join(','),
    );
  }
  return lines.join('\n') + '\n';
}
