/**
 * An outcome check per zone, for what feature PSI cannot see: a change in one zone (its kitchens 50% slower) is a
 * twentieth of the traffic and barely moves a pooled histogram, but it makes every delivery there late. Each zone
 * keeps its last `lastN` residuals (actual − quoted, seconds) and, before them, a baseline of up to `baselineN`.
 * A zone alarms when its recent mean moved from its baseline by more than both an absolute floor and `k` standard
 * errors (σ·√(1/n + 1/m), σ the spread of the model's residuals over every zone). Against its own baseline, not
 * zero: a model is steadily a few minutes off in some zones (measured: up to 8 min in the simulated city), which is
 * an accuracy matter for the Accuracy view, not a change. A lasting shift becomes the baseline once `lastN +
 * baselineN` deliveries have passed, and the alarm clears: by then it has been seen, and retraining absorbs it.
 */
export interface ZoneDriftOptions {
  /** Deliveries per zone judged: the most recent ones (120). */
  lastN?: number;
  /** Deliveries a zone needs before it is judged (50). */
  minDeliveries?: number;
  /** |mean residual| must exceed this, seconds (120: two minutes nobody notices are no alarm). */
  floorSeconds?: number;
  /** … and this many standard errors (4). */
  k?: number;
  /** Residuals over all zones that give σ (2000). */
  spreadN?: number;
  /** The zone's deliveries before its last `lastN` that it is compared with (400), and the fewest judged (150). */
  baselineN?: number;
  minBaseline?: number;
}

export interface ZoneDriftEntry {
  zone: string;
  deliveries: number;
  /** Mean of actual − quoted over the zone's last deliveries: positive means later than predicted. */
  mean_residual_s: number;
  /** The same over the baseline deliveries before them. */
  baseline_residual_s: number;
  baseline_deliveries: number;
  /** The |mean| the zone must exceed: max(floor, k·σ/√n). */
  limit_s: number;
  alarm: boolean;
}

export interface ZoneAlarm {
  zone: string;
  deliveries: number;
  mean_residual_s: number;
  baseline_residual_s: number;
  message: string;
}

class Ring {
  readonly values: Float64Array;
  n = 0;
  next = 0;
  sum = 0;
  sumSq = 0;

  constructor(size: number) {
    this.values = new Float64Array(size);
  }

  /** Adds v; returns the value it pushed out, if full. */
  push(v: number): number | undefined {
    let old: number | undefined;
    if (this.n === this.values.length) {
      old = this.values[this.next]!;
      this.sum -= old;
      this.sumSq -= old * old;
    } else this.n++;
    this.values[this.next] = v;
    this.next = (this.next + 1) % this.values.length;
    this.sum += v;
    this.sumSq += v * v;
    return old;
  }

  mean(): number {
    return this.n ? this.sum / this.n : 0;
  }

  sd(): number {
    if (this.n < 2) return 0;
    const m = this.mean();
    return Math.sqrt(Math.max(0, (this.sumSq - this.n * m * m) / (this.n - 1)));
  }
}

export class ZoneDrift {
  private readonly zones = new Map<string, { recent: Ring; baseline: Ring }>();
  private readonly all: Ring;
  private readonly lastN: number;
  private readonly minDeliveries: number;
  private readonly floor: number;
  private readonly k: number;
  private readonly baselineN: number;
  private readonly minBaseline: number;

  constructor(options: ZoneDriftOptions = {}) {
    this.lastN = options.lastN ?? 120;
    this.minDeliveries = options.minDeliveries ?? 50;
    this.floor = options.floorSeconds ?? 120;
    this.k = options.k ?? 4;
    this.all = new Ring(options.spreadN ?? 2000);
    this.baselineN = options.baselineN ?? 400;
    this.minBaseline = options.minBaseline ?? 150;
  }

  /** One delivered order: its zone and actual − quoted seconds. */
  add(zone: string, residualSeconds: number): void {
    if (!Number.isFinite(residualSeconds)) return;
    let z = this.zones.get(zone);
    if (!z) this.zones.set(zone, (z = { recent: new Ring(this.lastN), baseline: new Ring(this.baselineN) }));
    const old = z.recent.push(residualSeconds);
    if (old !== undefined) z.baseline.push(old);
    this.all.push(residualSeconds);
  }

  /** σ of the model's residuals over every zone: a zone's own would grow with the very shift being looked for. */
  get spreadSeconds(): number {
    return this.all.sd();
  }

  /** Every zone with enough deliveries, worst first. */
  entries(): ZoneDriftEntry[] {
    const sigma = this.spreadSeconds;
    const out: ZoneDriftEntry[] = [];
    const r = (x: number): number => Math.round(x * 10) / 10;
    for (const [zone, { recent, baseline }] of this.zones) {
      if (recent.n < this.minDeliveries || baseline.n < this.minBaseline) continue;
      const moved = recent.mean() - baseline.mean();
      const limit = Math.max(this.floor, this.k * sigma * Math.sqrt(1 / recent.n + 1 / baseline.n));
      out.push({
        zone,
        deliveries: recent.n,
        mean_residual_s: r(recent.mean()),
        baseline_residual_s: r(baseline.mean()),
        baseline_deliveries: baseline.n,
        limit_s: r(limit),
        alarm: Math.abs(moved) > limit,
      });
    }
    const moved = (e: ZoneDriftEntry): number => Math.abs(e.mean_residual_s - e.baseline_residual_s);
    return out.sort((a, b) => moved(b) - moved(a));
  }

  /** The zones in alarm, each with a sentence an operator can read. */
  alarms(): ZoneAlarm[] {
    return this.entries()
      .filter((e) => e.alarm)
      .map(({ zone, deliveries, mean_residual_s, baseline_residual_s }) => ({
        zone,
        deliveries,
        mean_residual_s,
        baseline_residual_s,
        message: zoneMessage(zone, deliveries, mean_residual_s, baseline_residual_s),
      }));
  }
}

export function zoneMessage(
  zone: string,
  deliveries: number,
  meanResidualS: number,
  baselineResidualS: number,
): string {
  const say = (s: number): string => `${(Math.abs(s) / 60).toFixed(1)} min ${s >= 0 ? 'later' : 'earlier'}`;
  return `zone ${zone}: deliveries ${say(meanResidualS)} than predicted over its last ${deliveries} orders (${say(baselineResidualS)} before)`;
}
