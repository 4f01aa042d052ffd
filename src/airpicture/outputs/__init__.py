"""Files a run leaves behind for people and other programs.

* :func:`write_tracks_parquet` / :func:`read_tracks_parquet`: ``tracks.parquet``.
* :func:`render_picture`: ``picture.png``, truth against confirmed tracks on an offline map.
* :func:`load_base_map`: Natural Earth land, coastlines and borders (offline TopoJSON).

Names are loaded on first use: importing matplotlib costs about half a second, and a replay that only needs
the Parquet side (its summary names the sensors through ``outputs.parquet``) should not pay it up front.
"""

__all__ = ["BaseMap", "load_base_map", "read_tracks_parquet", "render_picture", "write_tracks_parquet"]

_HOMES = {"BaseMap": "basemap", "load_base_map": "basemap", "read_tracks_parquet": "parquet",
          "write_tracks_parquet": "parquet", "render_picture": "picture"}


def __getattr__(name):
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(name)
