"""Tracking performance metrics over columnar truths and tracks: GOSPA / OSPA and SIAP.

Inputs are columns: ``time (n,)``, ``id (n,)``, ``position (n, k)`` and optionally ``velocity (n, k)``,
k = 2 or 3, in any Cartesian frame. Truth and track samples are matched by exact time equality.
See docs/metrics.md.
"""

from .gospa import GospaResult, gospa_sequence

__all__ = ["GospaResult", "gospa_sequence"]
