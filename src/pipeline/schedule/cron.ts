/**
 * A five-field cron expression (minute hour day-of-month month day-of-week), in UTC: `*`, lists, ranges and steps
 * (`*\/5`, `1-5`, `0,30`, `10-50/20`); day-of-week 0 or 7 is Sunday. As in Vixie cron, when both day fields are
 * restricted a day matching either counts. Small enough to read, so no dependency for it.
 */
export class CronExpression {
  private constructor(
    private readonly minutes: Set<number>,
    private readonly hours: Set<number>,
    private readonly days: Set<number>,
    private readonly months: Set<number>,
    private readonly weekdays: Set<number>,
    private readonly dayRestricted: boolean,
    private readonly weekdayRestricted: boolean,
    readonly source: string,
  ) {}

  static parse(expression: string): CronExpression {
    const fields = expression.trim().split(/\s+/);
    if (fields.length !== 5)
      throw new RangeError(
        `cron "${expression}" needs 5 fields (minute hour day month weekday), not ${fields.length}`,
      );
    const [mi, h, d, mo, wd] = fields as [string, string, string, string, string];
    const weekdays = field(wd, 0, 7, 'day-of-week');
    if (weekdays.delete(7)) weekdays.add(0);
    return new CronExpression(
      field(mi, 0, 59, 'minute'),
      field(h, 0, 23, 'hour'),
      field(d, 1, 31, 'day-of-month'),
      field(mo, 1, 12, 'month'),
      weekdays,
      d !== '*',
      wd !== '*',
      expression,
    );
  }

  matches(ms: number): boolean {
    const t = new Date(ms);
    if (!this.minutes.has(t.getUTCMinutes()) || !this.hours.has(t.getUTCHours())) return false;
    if (!this.months.has(t.getUTCMonth() + 1)) return false;
    const day = this.days.has(t.getUTCDate());
    const weekday = this.weekdays.has(t.getUTCDay());
    if (this.dayRestricted && this.weekdayRestricted) return day || weekday;
    return day && weekday;
  }

  /** The first whole minute strictly after `ms` that matches; searches up to five years ahead. */
  next(ms: number): number {
    const MIN = 60_000;
    let t = Math.floor(ms / MIN) * MIN + MIN;
    const limit = t + 5 * 366 * 86_400_000;
    while (t < limit) {
      const d = new Date(t);
      if (!this.months.has(d.getUTCMonth() + 1) || !this.dayMatches(d)) {
        t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
      } else if (!this.hours.has(d.getUTCHours())) {
        t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
      } else if (!this.minutes.has(d.getUTCMinutes())) t += MIN;
      else return t;
    }
    throw new RangeError(`cron "${this.source}" never fires`);
  }

  private dayMatches(d: Date): boolean {
    const day = this.days.has(d.getUTCDate());
    const weekday = this.weekdays.has(d.getUTCDay());
    return this.dayRestricted && this.weekdayRestricted ? day || weekday : day && weekday;
  }
}

function field(text: string, min: number, max: number, name: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new RangeError(`cron ${name} "${part}" is not a number, range, list or step`);
    const step = m[4] === undefined ? 1 : Number(m[4]);
    const lo = m[1] === '*' ? min : Number(m[2]);
    const hi = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : lo;
    if (lo < min || hi > max || lo > hi || step < 1)
      throw new RangeError(`cron ${name} "${part}" is outside ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}
