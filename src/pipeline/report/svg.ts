/** Inline SVG charts for the run report: no scripts, no CDN, readable offline. */

const W = 560;
const H = 240;
const PAD = { l: 52, r: 12, t: 12, b: 64 };
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string =>
  Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);

export interface Series {
  name: string;
  values: number[];
  color: string;
}

/** Grouped bars: one group per label, one bar per series. */
export function barChart(labels: string[], series: Series[], yLabel: string): string {
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const gw = iw / Math.max(1, labels.length);
  const bw = (gw * 0.8) / Math.max(1, series.length);
  const parts: string[] = [];
  series.forEach((s, k) =>
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const h = (v / max) * ih;
      const x = PAD.l + i * gw + gw * 0.1 + k * bw;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${(PAD.t + ih - h).toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${esc(s.name)} ${esc(labels[i]!)}: ${fmt(v)}</title></rect>`,
      );
    }),
  );
  // Long or many labels are slanted so neighbours do not overlap.
  const slant = labels.length > 8 || labels.some((l) => l.length > 8);
  const step = Math.max(1, Math.ceil(labels.length / 24));
  labels.forEach((l, i) => {
    if (i % step !== 0) return;
    const x = (PAD.l + i * gw + gw / 2).toFixed(1);
    const y = H - PAD.b + 12;
    parts.push(
      slant
        ? `<text x="${x}" y="${y}" font-size="9" text-anchor="end" transform="rotate(-35 ${x} ${y})">${esc(l)}</text>`
        : `<text x="${x}" y="${y}" font-size="10" text-anchor="middle">${esc(l)}</text>`,
    );
  });
  return frame(parts, max, yLabel, series);
}

/** Points (x, y) with the y = x diagonal: predicted against actual. */
export function scatter(xs: number[], ys: number[], xLabel: string, yLabel: string): string {
  const max = Math.max(1e-9, ...xs, ...ys);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const px = (v: number): string => (PAD.l + (v / max) * iw).toFixed(1);
  const py = (v: number): string => (PAD.t + ih - (v / max) * ih).toFixed(1);
  const parts = xs.map(
    (x, i) => `<circle cx="${px(x)}" cy="${py(ys[i]!)}" r="1.6" fill="#3b6ea5" fill-opacity="0.45"/>`,
  );
  parts.push(
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(max)}" y2="${py(max)}" stroke="#c0392b" stroke-dasharray="4 3"/>`,
  );
  parts.push(
    `<text x="${PAD.l + iw / 2}" y="${H - 4}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>`,
  );
  return frame(parts, max, yLabel, []);
}

function frame(parts: string[], max: number, yLabel: string, series: Series[]): string {
  const ih = H - PAD.t - PAD.b;
  const axis = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = (PAD.t + ih - f * ih).toFixed(1);
    return `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${PAD.l - 4}" y="${y}" font-size="10" text-anchor="end" dominant-baseline="middle">${fmt(f * max)}</text>`;
  });
  const legend = series.map(
    (s, i) =>
      `<rect x="${PAD.l + 8 + i * 140}" y="${PAD.t}" width="10" height="10" fill="${s.color}"/><text x="${PAD.l + 22 + i * 140}" y="${PAD.t + 9}" font-size="11">${esc(s.name)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img"><title>${esc(yLabel)}</title>${axis.join('')}${parts.join('')}${legend.join('')}<text x="12" y="${PAD.t + ih / 2}" font-size="11" transform="rotate(-90 12 ${PAD.t + ih / 2})" text-anchor="middle">${esc(yLabel)}</text></svg>`;
}

export { esc };
