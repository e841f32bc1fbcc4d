import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { browserZone } from '../format';

function clock(unixSeconds: number, seconds: boolean): string {
  const d = new Date(unixSeconds * 1000);
  return d.toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
  });
}

export interface Series {
  label: string;
  colour: string;
  dash?: number[];
  /** Points instead of a line (a scatter). */
  points?: boolean;
}

interface ChartProps {
  /** x values first, then one array per series; null leaves a gap. */
  data: Array<Array<number | null>>;
  series: Series[];
  height?: number;
  /** Unix seconds on x (uPlot's time axis); otherwise plain numbers. */
  time?: boolean;
  yLabel?: string;
  xLabel?: string;
  yMin?: number;
  yMax?: number;
  /** A fixed x domain (hours of day: 0–23), whatever the number of points; ticks at whole steps. */
  xDomain?: [number, number];
  testId?: string;
}

/** A young history spans a few seconds: draw at least this much, so ticks stay a readable distance apart. */
const MIN_TIME_SPAN_S = 60;

/**
 * uPlot behind a React component: the plot is built once per series layout and then only fed new data, so a
 * chart that updates every second costs a redraw, not a rebuild.
 */
export function Chart({
  data,
  series,
  height = 220,
  time = true,
  yLabel,
  xLabel,
  yMin,
  yMax,
  xDomain,
  testId,
}: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // The x labels last drawn, for tests and screen readers: the canvas itself holds no text.
  const drawnX = useRef<string[]>([]);
  const axisLabel = xLabel ?? (time ? `time (${browserZone()})` : undefined);
  const layout = JSON.stringify({ series, time, yLabel, xLabel, yMin, yMax, height, xDomain });

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      scales: {
        // Half a step of margin each side, so the first and last categories are drawn whole.
        x: xDomain
          ? { time, range: (): uPlot.Range.MinMax => [xDomain[0] - 0.5, xDomain[1] + 0.5] }
          : time
            ? {
                time,
                range: (_u, lo, hi): uPlot.Range.MinMax =>
                  hi - lo >= MIN_TIME_SPAN_S ? [lo, hi] : [hi - MIN_TIME_SPAN_S, hi],
              }
            : { time },
        y:
          yMin !== undefined || yMax !== undefined ? { range: (_u, lo, hi) => [yMin ?? lo, yMax ?? hi] } : {},
      },
      legend: { live: false },
      hooks: {
        draw: [
          (u) => {
            el.dataset.xMin = String(u.scales.x?.min ?? '');
            el.dataset.xMax = String(u.scales.x?.max ?? '');
            el.dataset.xLabels = JSON.stringify(drawnX.current);
          },
        ],
      },
      cursor: { drag: { x: false, y: false } },
      axes: [
        {
          stroke: '#64748b',
          grid: { stroke: '#eef2f6' },
          ticks: { stroke: '#e2e8f0' },
          // Times on the browser's clock, and the axis says which.
          label: axisLabel,
          // Room for "19:42:05" and a gap: uPlot drops ticks until labels fit, so they never overlap.
          space: time ? 90 : xDomain ? 28 : 50,
          ...(xDomain
            ? {
                incrs: [1, 2, 3, 6, 12],
                values: (_u: uPlot, splits: number[]) => (drawnX.current = splits.map((v) => String(v))),
              }
            : {}),
          // Clock times only: the charts cover minutes, and a date line would crowd a phone screen.
          // Whole seconds at least: a young history would otherwise get half-second ticks with repeated labels.
          ...(time
            ? {
                incrs: [
                  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                ],
              }
            : {}),
          ...(time
            ? {
                values: (_u: uPlot, splits: number[], _a: number, _s: number, step: number) =>
                  (drawnX.current = splits.map((s) => clock(s, step < 60))),
              }
            : {}),
        },
        {
          stroke: '#64748b',
          grid: { stroke: '#eef2f6' },
          ticks: { stroke: '#e2e8f0' },
          label: yLabel,
          size: 56,
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.colour,
          width: s.points ? 0 : 2,
          dash: s.dash,
          spanGaps: false,
          // Lines over a few categories (hours of day) show their points, so a single value is still visible.
          points:
            s.points || !time ? { show: true, size: 5, fill: s.colour, stroke: s.colour } : { show: false },
        })),
      ],
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Data updates go through setData below; only a new layout rebuilds the plot.
  }, [layout]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  const last = data.map((column) => column[column.length - 1] ?? null);
  return (
    <div
      className="chart"
      ref={box}
      data-testid={testId}
      data-points={data[0]?.length ?? 0}
      data-x-axis={axisLabel}
      data-last={JSON.stringify(last)}
    />
  );
}
