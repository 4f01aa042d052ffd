"""Tracking performance metrics over columnar truths and tracks: GOSPA / OSPA, SIAP and ID-SIAP.

Inputs are columns: ``time (n,)``, ``id (n,)``, ``position (n, k)`` and optionally ``velocity (n, k)``,
k = 2 or 3, in any Cartesian frame. Truth and track samples are matched by exact time equality.
See docs/metrics.md.
"""

from .association import TrackTruthAssociation, associate_tracks_to_truths
from .gospa import GospaResult, gospa_sequence
from .idsiap import ID_SIAP_KEYS, id_siap, id_siap_metrics, identity_group
from .siap import SIAP_KEYS, siap_metrics

__all__ = ["GospaResult", "gospa_sequence", "TrackTruthAssociation", "associate_tracks_to_truths",
           "SIAP_KEYS", "siap_metrics", "ID_SIAP_KEYS", "id_siap", "id_siap_metrics", "identity_group"]
