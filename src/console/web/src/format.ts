export const fmtMin = (seconds: number): string => `${Math.round(seconds / 60)} min`;
export const fmtNum = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '–'
    : x.toLocaleString('en', { maximumFractionDigits: digits });
export const fmtPct = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`;
export const fmtMs = (x: number | null | undefined): string =>
  x === null || x === undefined ? '–' : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`;

/** The value of a datetime-local input for a moment, in the browser's zone. */
export function localInputValue(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A datetime-local value as ISO 8601; empty means now. */
export function orderedAtIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Green for quick, amber, then red for slow: an ETA's colour on the map and in lists. */
export function etaColour(seconds: number, min = 15 * 60, max = 60 * 60): string {
  const t = Math.min(1, Math.max(0, (seconds - min) / (max - min)));
  const hue = 140 - 140 * t;
  return `hsl(${hue.toFixed(0)} 70% 42%)`;
}

/** Distinct series colours, readable on white. */
export const PALETTE = [
  '#2563eb',
  '#16a34a',
  '#d97706',
  '#dc2626',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#475569',
];
