// MIL-STD-2525C air track symbols (milsymbol) for the picture's records.
import ms from "milsymbol";

// Standard identity -> the SIDC identity letter (airpicture.identity.standard.IDENTITY_LETTERS).
export const IDENTITY_LETTERS = {
  pending: "P", unknown: "U", assumed_friend: "A", friend: "F", neutral: "N",
  suspect: "S", hostile: "H", joker: "J", faker: "K",
};

// Track class -> the 2525C air function id (6 characters after the status letter).
export const CLASS_FUNCTION = {
  fixed_wing: "MF----",   // military fixed wing (civil when it squawks / has an ICAO address and is neutral)
  rotary_wing: "MH----",  // military rotary wing
  uav: "MFQ---",          // unmanned aerial vehicle
  missile: "WM----",      // missile in flight
  bird: "------",         // no 2525 bird: a plain air track, labelled BIRD
  unknown: "------",      // a plain air track
};

export const IDENTITY_COLOURS = {
  pending: "#ffff80", unknown: "#ffff80", assumed_friend: "#80e0ff", friend: "#80e0ff",
  neutral: "#aaffaa", suspect: "#ff8080", hostile: "#ff8080", joker: "#ff8080", faker: "#ff8080",
};

export function sidc(rec) {
  const id = IDENTITY_LETTERS[rec.identity] || "P";
  const status = rec.status === "coasting" ? "A" : "P"; // anticipated (dashed frame) while coasting
  let fn = CLASS_FUNCTION[rec.track_class] || "------";
  if (rec.track_class === "fixed_wing" && rec.identity === "neutral" && rec.icao24) fn = "CF----"; // civil
  if (rec.track_class === "rotary_wing" && rec.identity === "neutral" && rec.icao24) fn = "CH----";
  return `S${id}A${status}${fn}-----`.slice(0, 15);
}

const cache = new Map();

// { svg, anchor: {x, y}, size: {width, height} } for a record; cached by what changes the drawing.
export function symbolFor(rec, size = 22) {
  const code = sidc(rec);
  const label = rec.callsign || `T${rec.track_id}`;
  const type = rec.track_class === "bird" ? "BIRD" : "";
  const key = `${code}|${label}|${type}|${size}`;
  let s = cache.get(key);
  if (!s) {
    const sym = new ms.Symbol(code, {
      size, uniqueDesignation: label, type, infoColor: "#e8eef2", infoSize: 34,
      outlineColor: "#0b1a24", outlineWidth: 2,
    });
    s = { svg: sym.asSVG(), anchor: sym.getAnchor(), size: sym.getSize() };
    if (cache.size > 50000) cache.clear();
    cache.set(key, s);
  }
  return s;
}
