export interface LatLng {
  lat: number;
  lng: number;
}

const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;

export function haversineKm(a: LatLng, b: LatLng): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLng = (b.lng - a.lng) * RAD;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(s)));
}

export const KM_PER_DEG_LAT = 110.574;
export const kmPerDegLng = (lat: number): number => 111.32 * Math.cos((lat * Math.PI) / 180);

/** The point `dxKm` east and `dyKm` north of `from`, flat-earth: fine over a city. */
export function offsetKm(from: LatLng, dxKm: number, dyKm: number): LatLng {
  return { lat: from.lat + dyKm / KM_PER_DEG_LAT, lng: from.lng + dxKm / kmPerDegLng(from.lat) };
}
