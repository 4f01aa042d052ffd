"""Stone Soup as a differential-test peer for airpicture.metrics: columns -> Stone Soup objects -> numbers.

Used by tests/test_metrics_*.py and bench/bench_metrics.py. Stone Soup is a test-only dependency.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.datetime(2026, 1, 1)


def timestamp(seconds: float) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=float(seconds))


def _states_by_id(time, object_id, position, velocity):
    """{id: [(time, state vector)]} in input order; state vector = position then velocity."""
    from stonesoup.types.array import StateVector

    out: dict[int, list] = {}
    for row in range(len(time)):
        vector = position[row] if velocity is None else np.concatenate([position[row], velocity[row]])
        out.setdefault(int(object_id[row]), []).append((timestamp(time[row]), StateVector(vector)))
    return out


def truth_paths(time, truth_id, position, velocity=None):
    """GroundTruthPath per truth id, states sorted by time."""
    from stonesoup.types.groundtruth import GroundTruthPath, GroundTruthState

    paths = []
    for key, states in _states_by_id(time, truth_id, position, velocity).items():
        states.sort(key=lambda s: s[0])
        paths.append(GroundTruthPath([GroundTruthState(v, timestamp=t) for t, v in states], id=str(key)))
    return paths


def tracks(time, track_id, position, velocity=None):
    """Track per track id (plain States), states sorted by time."""
    from stonesoup.types.state import State
    from stonesoup.types.track import Track

    out = []
    for key, states in _states_by_id(time, track_id, position, velocity).items():
        states.sort(key=lambda s: s[0])
        out.append(Track([State(v, timestamp=t) for t, v in states], id=str(key)))
    return out


def gospa(truth_time, truth_id, truth_pos, track_time, track_id, track_pos, c, p):
    """Stone Soup GOSPAMetric per time step: (times s, distance, localisation, missed, false)."""
    from stonesoup.metricgenerator.ospametric import GOSPAMetric

    metric = GOSPAMetric(c=c, p=p)
    return _gospa_rows(metric, truth_paths(truth_time, truth_id, truth_pos),
                       tracks(track_time, track_id, track_pos))


def _gospa_rows(metric, truths, tracks_):
    from stonesoup.types.metric import SingleTimeMetric

    result = metric.compute_over_time(*metric.extract_states(tracks_, True),
                                      *metric.extract_states(truths, True))
    steps = [result] if isinstance(result, SingleTimeMetric) else result.value
    rows = [((s.timestamp - EPOCH).total_seconds(), s.value["distance"], s.value["localisation"],
             s.value["missed"], s.value["false"]) for s in steps]
    return np.array(rows, dtype=float).reshape(-1, 5)


def ospa(truth_time, truth_id, truth_pos, track_time, track_id, track_pos, c, p):
    """Stone Soup OSPAMetric per time step: (times s, distance)."""
    from stonesoup.metricgenerator.ospametric import OSPAMetric
    from stonesoup.types.metric import SingleTimeMetric

    metric = OSPAMetric(c=c, p=p)
    truths = truth_paths(truth_time, truth_id, truth_pos)
    tracks_ = tracks(track_time, track_id, track_pos)
    result = metric.compute_over_time(metric.extract_states(tracks_), [], metric.extract_states(truths), [])
    steps = [result] if isinstance(result, SingleTimeMetric) else result.value
    return np.array([((s.timestamp - EPOCH).total_seconds(), s.value) for s in steps], float).reshape(-1, 2)


def _position_velocity_measures(dims):
    from stonesoup.measures import Euclidean

    return (Euclidean(mapping=tuple(range(dims))),
            Euclidean(mapping=tuple(range(dims, 2 * dims))))


def track_to_truth(truths, tracks_, dims, threshold, confirm_hits, end_misses):
    """Stone Soup TrackToTruth on position only: AssociationSet."""
    from stonesoup.dataassociator.tracktotrack import TrackToTruth

    position, _ = _position_velocity_measures(dims)
    associator = TrackToTruth(association_threshold=threshold, consec_pairs_confirm=confirm_hits,
                              consec_misses_end=end_misses, measure=position)
    return associator, associator.associate_tracks(set(tracks_), set(truths))


def association_rows(association_set):
    """Sorted (track id, truth id, start s, end s) per TimeRange component of every association."""
    from stonesoup.types.groundtruth import GroundTruthPath
    from stonesoup.types.time import CompoundTimeRange

    rows = []
    for association in association_set.associations:
        first, second = association.objects
        truth, track = (first, second) if isinstance(first, GroundTruthPath) else (second, first)
        ranges = association.time_range.time_ranges if isinstance(association.time_range, CompoundTimeRange) \
            else [association.time_range]
        for r in ranges:
            rows.append((int(track.id), int(truth.id), (r.start - EPOCH).total_seconds(),
                         (r.end - EPOCH).total_seconds()))
    return sorted(rows)


def siap(truth_time, truth_id, truth_pos, truth_vel, track_time, track_id, track_pos, track_vel,
         threshold, confirm_hits=3, end_misses=2):
    """Stone Soup SIAPMetrics with TrackToTruth association: (summary dict, association rows)."""
    from stonesoup.metricgenerator.manager import MultiManager
    from stonesoup.metricgenerator.tracktotruthmetrics import SIAPMetrics

    dims = truth_pos.shape[1] if len(truth_pos) else track_pos.shape[1]
    truths = truth_paths(truth_time, truth_id, truth_pos, truth_vel)
    tracks_ = tracks(track_time, track_id, track_pos, track_vel)
    associator, _ = track_to_truth(truths, tracks_, dims, threshold, confirm_hits, end_misses)
    position, velocity = _position_velocity_measures(dims)
    generator = SIAPMetrics(position_measure=position, velocity_measure=velocity)
    manager = MultiManager(generators=[generator], associator=associator)
    manager.add_data({"groundtruth_paths": truths, "tracks": tracks_})
    metrics = manager.generate_metrics()["siap_generator"]
    names = {
        "completeness": "SIAP Completeness", "ambiguity": "SIAP Ambiguity", "spuriousness": "SIAP Spuriousness",
        "position_accuracy_m": "SIAP Position Accuracy", "velocity_accuracy_mps": "SIAP Velocity Accuracy",
        "track_number_change_rate": "SIAP Rate of Track Number Change",
        "longest_track_segment": "SIAP Longest Track Segment",
    }
    summary = {key: float(metrics[title].value) for key, title in names.items()}
    return summary, association_rows(manager.association_set)
