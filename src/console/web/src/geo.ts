import { cellToBoundary, latLngToCell, polygonToCells } from 'h3-js';

export interface LatLng {
  lat: number;
  lng: number;
}

export function haversineKm(a: LatLng, b: LatLng): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

/**
 * A local equirectangular projection fitted to a box: at city scale it is indistinguishable from Web Mercator and
 * needs no tiles, only the points themselves.
 */
export class Projection {
  private readonly k: number;
  private readonly scale: number;
  private readonly ox: number;
  private readonly oy: number;

  constructor(
    private readonly box: { minLat: number; maxLat: number; minLng: number; maxLng: number },
    width: number,
    height: number,
    padding = 24,
    zoom = 1,
    private readonly centre: LatLng = {
      lat: (box.minLat + box.maxLat) / 2,
      lng: (box.minLng + box.maxLng) / 2,
    },
  ) {
    this.k = Math.cos((((box.minLat + box.maxLat) / 2) * Math.PI) / 180);
    const w = (box.maxLng - box.minLng) * this.k || 1e-6;
    const h = box.maxLat - box.minLat || 1e-6;
    this.scale = Math.min((width - 2 * padding) / w, (height - 2 * padding) / h) * zoom;
    this.ox = width / 2;
    this.oy = height / 2;
  }

  toXY(p: LatLng): [number, number] {
    return [
      this.ox + (p.lng - this.centre.lng) * this.k * this.scale,
      this.oy - (p.lat - this.centre.lat) * this.scale,
    ];
  }

  toLatLng(x: number, y: number): LatLng {
    return {
      lat: this.centre.lat - (y - this.oy) / this.scale,
      lng: this.centre.lng + (x - this.ox) / (this.k * this.scale),
    };
  }
}

export function boundsOf(points: LatLng[]): {
  minLat: number;
  maxLat: number;
  minLng: number;
  maxLng: number;
} {
  let minLat = Infinity;
  let maxLat = -Infinity;
  let minLng = Infinity;
  let maxLng = -Infinity;
  for (const p of points) {
    minLat = Math.min(minLat, p.lat);
    maxLat = Math.max(maxLat, p.lat);
    minLng = Math.min(minLng, p.lng);
    maxLng = Math.max(maxLng, p.lng);
  }
  return { minLat, maxLat, minLng, maxLng };
}

/** The H3 cells (resolution `res`) that tile a box, with their outlines as [lat, lng] rings. */
export function gridCells(
  box: ReturnType<typeof boundsOf>,
  res: number,
): Map<string, Array<[number, number]>> {
  const ring: Array<[number, number]> = [
    [box.minLat, box.minLng],
    [box.minLat, box.maxLng],
    [box.maxLat, box.maxLng],
    [box.maxLat, box.minLng],
  ];
  const out = new Map<string, Array<[number, number]>>();
  for (const cell of polygonToCells(ring, res))
    out.set(cell, cellToBoundary(cell) as Array<[number, number]>);
  return out;
}

export { cellToBoundary, latLngToCell };
