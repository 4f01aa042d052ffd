"""Interoperability outputs (Cursor-on-Target, ASTERIX CAT062, readsb aircraft.json, GeoJSON) and the ASTERIX
CAT048 radar input. See docs/interop.md.

Modules are imported on use: libasterix (CAT062 / CAT048) takes seconds to import and only the runs that need it
pay for it."""


def sinks_from_options(cot=None, asterix=None, scenario=None) -> list:
    """Sinks for ``--cot URL`` / ``--asterix URL`` and a scenario's ``[outputs]`` table (interop.options)."""
    from .options import sinks_from_options as build

    return build(cot=cot, asterix=asterix, scenario=scenario)


__all__ = ["sinks_from_options"]
