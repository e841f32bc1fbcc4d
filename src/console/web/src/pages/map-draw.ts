import type { EtaAnswer, StoreJson } from '../api';
import { etaColour, fmtMin, fmtPct } from '../format';
import { cellToBoundary, type LatLng, type Projection } from '../geo';

export type Answer = EtaAnswer | { store_id: string; error: { code: string; message: string } };
export const isEta = (a: Answer): a is EtaAnswer => 'eta_seconds' in a;

export interface MapScene {
  projection: Projection;
  stores: StoreJson[];
  /** H3 cells tiling the view, with their outlines. */
  grid: Map<string, Array<[number, number]>>;
  /** Request share per H3 cell, and its maximum. */
  heat: Map<string, number>;
  maxHeat: number;
  share: Map<string, number>;
  maxShare: number;
  byStore: Map<string, Answer>;
  destination: LatLng | null;
  hover: StoreJson | null;
  size: { width: number; height: number };
}

/** The whole map on a canvas: cells shaded by traffic, stores sized by share and coloured by ETA, a scale bar. */
export function drawMap(g: CanvasRenderingContext2D, scene: MapScene): void {
  const { projection, stores, grid, heat, maxHeat, share, maxShare, byStore, destination, hover, size } =
    scene;
  g.fillStyle = '#f8fafc';
  g.fillRect(0, 0, size.width, size.height);
  const hex = (ring: Array<[number, number]>): void => {
    g.beginPath();
    ring.forEach(([lat, lng], i) => {
      const [x, y] = projection.toXY({ lat, lng });
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.closePath();
  };
  g.lineWidth = 1;
  for (const [cell, ring] of grid) {
    hex(ring);
    const h = heat.get(cell);
    if (h !== undefined) {
      g.fillStyle = `rgba(234, 88, 12, ${(0.08 + 0.55 * Math.sqrt(h / maxHeat)).toFixed(3)})`;
      g.fill();
    }
    g.strokeStyle = '#e2e8f0';
    g.stroke();
  }
  for (const [cell] of heat) {
    if (grid.has(cell)) continue;
    hex(cellToBoundary(cell) as Array<[number, number]>);
    g.strokeStyle = '#e2e8f0';
    g.stroke();
  }
  if (destination) {
    const [dx, dy] = projection.toXY(destination);
    for (const s of stores) {
      const a = byStore.get(s.store_id);
      if (!a || !isEta(a)) continue;
      const [x, y] = projection.toXY(s.location);
      g.strokeStyle = 'rgba(37, 99, 235, 0.18)';
      g.beginPath();
      g.moveTo(dx, dy);
      g.lineTo(x, y);
      g.stroke();
    }
  }
  for (const s of stores) {
    const [x, y] = projection.toXY(s.location);
    const sh = share.get(s.store_id) ?? 0;
    const r = 3 + 9 * Math.sqrt(sh / maxShare);
    const a = byStore.get(s.store_id);
    g.beginPath();
    g.arc(x, y, a ? Math.max(r, 5) : r, 0, 2 * Math.PI);
    g.fillStyle = a ? (isEta(a) ? etaColour(a.eta_seconds) : '#94a3b8') : 'rgba(30, 41, 59, 0.72)';
    g.fill();
    g.strokeStyle = '#ffffff';
    g.lineWidth = 1.2;
    g.stroke();
  }
  if (destination) {
    const [x, y] = projection.toXY(destination);
    g.fillStyle = '#2563eb';
    g.strokeStyle = '#ffffff';
    g.lineWidth = 3;
    g.beginPath();
    g.arc(x, y, 8, 0, 2 * Math.PI);
    g.fill();
    g.stroke();
  }
  // A 1 km scale bar: with no tiles, distances are the only landmark.
  const origin = projection.toLatLng(16, size.height - 16);
  const [x0] = projection.toXY(origin);
  const [x1] = projection.toXY({
    lat: origin.lat,
    lng: origin.lng + 1 / (111.32 * Math.cos((origin.lat * Math.PI) / 180)),
  });
  g.strokeStyle = '#475569';
  g.lineWidth = 2;
  g.beginPath();
  g.moveTo(x0, size.height - 16);
  g.lineTo(x1, size.height - 16);
  g.stroke();
  g.fillStyle = '#475569';
  g.font = '11px system-ui, sans-serif';
  g.fillText('1 km', x0, size.height - 22);
  if (hover) {
    const [x, y] = projection.toXY(hover.location);
    const a = byStore.get(hover.store_id);
    const label = `${hover.name} · ${hover.category}${a && isEta(a) ? ` · ${fmtMin(a.eta_seconds)}` : ''}${share.has(hover.store_id) ? ` · ${fmtPct(share.get(hover.store_id))} of requests` : ''}`;
    g.font = '12px system-ui, sans-serif';
    const w = g.measureText(label).width + 14;
    const lx = Math.min(Math.max(4, x + 10), size.width - w - 4);
    const ly = Math.max(4, y - 30);
    g.fillStyle = 'rgba(15, 23, 42, 0.9)';
    g.beginPath();
    g.roundRect(lx, ly, w, 22, 5);
    g.fill();
    g.fillStyle = '#fff';
    g.fillText(label, lx + 7, ly + 15);
  }
}
