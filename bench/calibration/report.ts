// Markdown tables and the recovery chart of the calibration benchmark.
import { METHOD_LABELS, METHODS, type Method, type MethodTotals, type SegmentFigures } from './replay.js';
import type { RecoveryResult } from './simulated.js';

export interface Targets {
  /** Every judged segment inside its band. */
  segments: boolean;
  /** Coverage over all test rows within 0.78–0.82. */
  pooled: boolean;
  /** Mean width at most 10% above static pooled CQR's. */
  width: boolean;
}

export function targetsOf(t: MethodTotals): Targets {
  return {
    segments: t.segmentsInBand === t.segmentsJudged,
    pooled: t.coverage >= 0.78 && t.coverage <= 0.82,
    width: t.widthOverPooled <= 0.1,
  };
}

const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
const mark = (ok: boolean): string => (ok ? 'met' : '**not met**');

/** One row per method: coverage, width, segments in band, and the three targets. */
export function summaryTable(totals: Record<Method, MethodTotals>, unit: string): string[] {
  const rows = [
    `| method | coverage (all test rows) | mean width (${unit}) | width vs pooled CQR | judged segments in band | targets: segments / pooled 0.78–0.82 / width ≤ +10% |`,
    '|---|---|---|---|---|---|',
  ];
  for (const m of METHODS) {
    const t = totals[m];
    const g = targetsOf(t);
    rows.push(
      `| ${METHOD_LABELS[m]} | ${f3(t.coverage)} | ${f2(t.width)} | ${pct(t.widthOverPooled)} | ${t.segmentsInBand} / ${t.segmentsJudged} | ${mark(g.segments)} / ${mark(g.pooled)} / ${mark(g.width)} |`,
    );
  }
  return rows;
}

/** One row per segment; a coverage outside its band is marked ✗, an unjudged segment's band is shown in brackets. */
export function segmentTable(segments: SegmentFigures[], column: string): string[] {
  const shown: Method[] = ['pooled', 'segment', 'segmentOnline'];
  const rows = [
    `| ${column} | test outcomes | band | ${shown.map((m) => `coverage: ${METHOD_LABELS[m]}`).join(' | ')} | ${shown.map((m) => `width: ${METHOD_LABELS[m]}`).join(' | ')} |`,
    `|---|---|---|${shown.map(() => '---').join('|')}|${shown.map(() => '---').join('|')}|`,
  ];
  for (const s of segments) {
    const band = `${f3(s.band[0])}–${f3(s.band[1])}`;
    rows.push(
      `| ${s.segment} | ${s.n} | ${s.judged ? band : `(${band}, not judged)`} | ${shown
        .map((m) => `${f3(s.coverage[m])}${s.inBand[m] === false ? ' ✗' : ''}`)
        .join(' | ')} | ${shown.map((m) => f2(s.width[m])).join(' | ')} |`,
    );
  }
  return rows;
}

export function recoveryTable(runs: Array<{ seed: number; result: RecoveryResult }>): string[] {
  const rows = [
    '| seed | zone | outcomes after the break | static pooled | static per zone | per-zone online | pooled online | per-zone online within 0.80 ± 0.03 | other zones, per-zone online (outcomes) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { seed, result: r } of runs) {
    const a = r.at500;
    const ok = a ? Math.abs(a.segmentOnline - 0.8) <= 0.03 + 1e-12 : false;
    rows.push(
      `| ${seed} | ${r.zone} | ${r.outcomes} | ${a ? METHODS.map((m) => f3(a[m])).join(' | ') : '- | - | - | -'} | ${a ? (ok ? 'yes' : '**no**') : 'too few outcomes'} | ${f3(r.othersPooled.coverage.segmentOnline)} (${r.othersPooled.n}) |`,
    );
  }
  return rows;
}

export function curveTable(curve: RecoveryResult['curve'], every = 50): string[] {
  const rows = [
    `| outcome after the break | ${METHODS.map((m) => METHOD_LABELS[m]).join(' | ')} |`,
    `|---|${METHODS.map(() => '---').join('|')}|`,
  ];
  for (const p of curve.filter((q) => q.outcome % every === 0 && q.outcome <= 1000))
    rows.push(`| ${p.outcome} | ${METHODS.map((m) => f3(p.coverage[m])).join(' | ')} |`);
  return rows;
}

const COLORS: Record<Method, string> = {
  pooled: '#888888',
  segment: '#d08c2f',
  segmentOnline: '#1f6fb4',
  pooledOnline: '#7a3fa0',
};

/**
 * Sliding coverage of the zone's last outcomes after the break, one line per method (solid: one seed), the mean
 * over every seed for per-zone online (dashed), the 0.77–0.83 band and the 500th outcome.
 */
export function recoverySvg(
  curve: RecoveryResult['curve'],
  mean: Array<{ outcome: number; coverage: number }>,
  title: string,
): string {
  const W = 740;
  const H = 320;
  const left = 48;
  const right = 250;
  const top = 28;
  const bottom = 40;
  const maxX = Math.min(1000, Math.max(...curve.map((p) => p.outcome)));
  const x = (o: number): number => left + ((W - left - right) * o) / maxX;
  const y = (c: number): number => top + ((H - top - bottom) * (1 - c)) / 0.8; // 0.2 .. 1.0
  const clampY = (c: number): number => y(Math.max(0.2, Math.min(1, c)));
  const line = (pts: Array<[number, number]>, color: string, dash = ''): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.8"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${pts
      .map(([o, c]) => `${x(o).toFixed(1)},${clampY(c).toFixed(1)}`)
      .join(' ')}"/>`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${left}" y="16" font-size="12">${title}</text>`,
    `<rect x="${x(0)}" y="${y(0.83)}" width="${x(maxX) - x(0)}" height="${y(0.77) - y(0.83)}" fill="#2a9d3f" opacity="0.15"/>`,
    `<line x1="${x(500)}" x2="${x(500)}" y1="${top}" y2="${H - bottom}" stroke="#444" stroke-dasharray="3 3"/>`,
  ];
  for (const c of [0.2, 0.4, 0.6, 0.8, 1.0])
    parts.push(
      `<line x1="${left}" x2="${x(maxX)}" y1="${y(c)}" y2="${y(c)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(c) + 4}" text-anchor="end">${c.toFixed(1)}</text>`,
    );
  for (let o = 0; o <= maxX; o += 200)
    parts.push(`<text x="${x(o)}" y="${H - bottom + 16}" text-anchor="middle">${o}</text>`);
  parts.push(
    `<text x="${(x(0) + x(maxX)) / 2}" y="${H - 6}" text-anchor="middle">outcomes in the zone after the break (coverage of the last 200)</text>`,
  );
  for (const m of METHODS)
    parts.push(
      line(
        curve.filter((p) => p.outcome <= maxX).map((p) => [p.outcome, p.coverage[m]]),
        COLORS[m],
      ),
    );
  parts.push(
    line(
      mean.filter((p) => p.outcome <= maxX).map((p) => [p.outcome, p.coverage]),
      COLORS.segmentOnline,
      '6 4',
    ),
  );
  const legend: Array<[string, string, string]> = [
    ...METHODS.map((m): [string, string, string] => [METHOD_LABELS[m], COLORS[m], '']),
    ['per-zone online, mean of seeds', COLORS.segmentOnline, '6 4'],
    ['0.80 ± 0.03', '#2a9d3f', 'band'],
  ];
  legend.forEach(([label, color, dash], i) => {
    const ly = top + 8 + i * 18;
    const lx = W - right + 12;
    parts.push(
      dash === 'band'
        ? `<rect x="${lx}" y="${ly - 6}" width="22" height="10" fill="${color}" opacity="0.25"/>`
        : `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      `<text x="${lx + 28}" y="${ly + 4}">${label}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
