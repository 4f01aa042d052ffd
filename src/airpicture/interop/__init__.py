"""Interoperability outputs (Cursor-on-Target, ASTERIX CAT062, readsb aircraft.json, GeoJSON) and the ASTERIX
CAT048 radar input. See docs/interop.md."""
