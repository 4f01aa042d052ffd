// Small spherical helpers for drawing (display only: metres over a sphere are good enough here).
const R = 6371008.8;
const D2R = Math.PI / 180;

// The point `dist_m` from (lat, lon) along `bearing_deg` (clockwise from north).
export function destination(lat, lon, bearing_deg, dist_m) {
  const d = dist_m / R, b = bearing_deg * D2R, p1 = lat * D2R, l1 = lon * D2R;
  const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
  const l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
  return [p2 / D2R, ((l2 / D2R + 540) % 360) - 180];
}

// Where a track will be `ahead_s` seconds from now at its present ground velocity.
export function leaderEnd(rec, ahead_s) {
  const ve = rec.v_east_mps || 0, vn = rec.v_north_mps || 0;
  const dist = Math.hypot(ve, vn) * ahead_s;
  if (!(dist > 0)) return null;
  const bearing = Math.atan2(ve, vn) / D2R;
  return destination(rec.lat, rec.lon, bearing, dist);
}

// A sensor's field of regard: a sector polygon from azimuth_min clockwise to azimuth_max, or null for a circle.
export function sectorPolygon(s) {
  if (s.azimuth_min_deg == null || s.azimuth_max_deg == null) return null;
  let span = s.azimuth_max_deg - s.azimuth_min_deg;
  if (span === 0 || Math.abs(span) >= 360) return null;
  span = ((span % 360) + 360) % 360;
  const pts = [[s.lat, s.lon]];
  const n = Math.max(8, Math.ceil(span / 3));
  for (let i = 0; i <= n; i++) pts.push(destination(s.lat, s.lon, s.azimuth_min_deg + (span * i) / n, s.range_m));
  pts.push([s.lat, s.lon]);
  return pts;
}
