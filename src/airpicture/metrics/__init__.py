"""Tracking performance metrics over columnar truths and tracks: GOSPA / OSPA and SIAP.

Inputs are columns: ``time (n,)``, ``id (n,)``, ``position (n, k)`` and optionally ``velocity (n, k)``,
k = 2 or 3, in any Cartesian frame. Truth and track samples are matched by exact time equality.
See docs/metrics.md.
"""

from .association import TrackTruthAssociation, associate_tracks_to_truths
from .gospa import GospaResult, gospa_sequence
from .siap import SIAP_KEYS, siap_metrics

__all__ = ["GospaResult", "gospa_sequence", "TrackTruthAssociation", "associate_tracks_to_truths",
           "SIAP_KEYS", "siap_metrics"]
