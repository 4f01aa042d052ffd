"""Files a run leaves behind for people and other programs.

* :func:`write_tracks_parquet` / :func:`read_tracks_parquet`: ``tracks.parquet``.
* :func:`render_picture`: ``picture.png``, truth against confirmed tracks on an offline map.
* :func:`load_base_map`: Natural Earth land, coastlines and borders (offline TopoJSON).
"""

from .basemap import BaseMap, load_base_map
from .parquet import read_tracks_parquet, write_tracks_parquet
from .picture import render_picture

__all__ = ["BaseMap", "load_base_map", "read_tracks_parquet", "render_picture", "write_tracks_parquet"]
