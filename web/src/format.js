// Text formatting for the display.
export function pad2(n) { return String(n).padStart(2, "0"); }

// Picture time: T+hh:mm:ss when the run has no wall clock (epoch_unix null), else UTC.
export function fmtTime(t, epoch) {
  if (t == null || !isFinite(t)) return "--:--:--";
  if (epoch == null) {
    const s = Math.max(0, Math.floor(t));
    return `T+${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`;
  }
  const d = new Date((epoch + t) * 1000);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}Z`;
}

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

export const label = (s) => String(s ?? "").replace(/_/g, " ");
export const ft = (m) => (m == null ? "" : Math.round(m / 0.3048).toLocaleString("en-US"));
export const kt = (mps) => (mps == null ? "" : Math.round(mps / 0.514444));
export const num = (x, d = 0) => (x == null || !isFinite(x) ? "" : Number(x).toFixed(d));
