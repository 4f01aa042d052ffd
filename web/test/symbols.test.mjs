// Every identity x class x (civil or not) x (confirmed or coasting) gives a valid MIL-STD-2525C air symbol.
import { test } from "node:test";
import assert from "node:assert/strict";
import ms from "milsymbol";
import { sidc, symbolFor, IDENTITY_LETTERS, CLASS_FUNCTION } from "../src/symbols.js";

const IDENTITIES = ["pending", "unknown", "assumed_friend", "friend", "neutral", "suspect", "hostile", "joker", "faker"];
const CLASSES = ["unknown", "fixed_wing", "rotary_wing", "uav", "missile", "bird"];

test("the identities and classes are those of airpicture.identity.standard", () => {
  assert.deepEqual(Object.keys(IDENTITY_LETTERS).sort(), [...IDENTITIES].sort());
  assert.deepEqual(Object.keys(CLASS_FUNCTION).sort(), [...CLASSES].sort());
});

test("every combination is a valid 15-character air SIDC", () => {
  for (const identity of IDENTITIES) for (const track_class of CLASSES)
    for (const icao24 of ["", "4ca7b5"]) for (const status of ["confirmed", "coasting"]) {
      const code = sidc({ identity, track_class, icao24, status });
      assert.equal(code.length, 15, code);
      assert.equal(code[1], IDENTITY_LETTERS[identity], code);
      assert.equal(code[2], "A", code);
      assert.equal(code[3], status === "coasting" ? "A" : "P", code);
      assert.ok(new ms.Symbol(code, { size: 22 }).isValid(), `${code} (${identity}, ${track_class})`);
    }
});

test("icons by class, civil aircraft by their ICAO address", () => {
  const s = (identity, track_class, icao24 = "") => sidc({ identity, track_class, icao24, status: "confirmed" });
  assert.equal(s("hostile", "missile"), "SHAPWM---------");
  assert.equal(s("suspect", "uav"), "SSAPMFQ--------");
  assert.equal(s("friend", "rotary_wing"), "SFAPMH---------");
  assert.equal(s("neutral", "fixed_wing", "4ca7b5"), "SNAPCF---------");
  assert.equal(s("neutral", "fixed_wing"), "SNAPMF---------");
  assert.equal(s("unknown", "bird"), "SUAP-----------");
});

test("a drawn symbol has an SVG, a size and an anchor", () => {
  const sym = symbolFor({ track_id: 7, identity: "hostile", track_class: "fixed_wing", status: "confirmed", callsign: "" });
  assert.match(sym.svg, /^<svg/);
  assert.ok(sym.size.width > 0 && sym.size.height > 0);
  assert.ok(sym.anchor.x > 0 && sym.anchor.y > 0);
});
