"""Track table: allocation, growth, stable numbers, M-of-N and score confirmation, coasting and deletion."""

from __future__ import annotations

import numpy as np
import pytest

from airpicture.tracking.management import (
    COASTING, CONFIRMED, FREE, TENTATIVE, TrackTable, parse_confirm,
)


def _hits(table, hit, miss=()):
    return table.record_scan(np.array(hit, np.int64), np.array(miss, np.int64))


def test_allocate_grows_and_numbers_are_never_reused():
    table = TrackTable(capacity=2)
    table.add_field("state", (4,), np.float64, np.nan)
    slots = table.allocate(5, time=0.0)
    assert table.capacity >= 5 and table.state.shape == (table.capacity, 4)
    assert table.track_id[slots].tolist() == [1, 2, 3, 4, 5]
    table.state[slots] = 1.0
    table.free(slots[:2])
    again = table.allocate(3, time=1.0)
    # Freed slots are recycled, numbers are not; recycled slots get fresh field values.
    assert set(slots[:2].tolist()) <= set(again.tolist())
    assert table.track_id[again].tolist() == [6, 7, 8]
    assert np.isnan(table.state[again]).all()
    assert len(table) == 6
    assert sorted(table.active_slots().tolist()) == sorted(set(slots[2:].tolist()) | set(again.tolist()))


def test_three_of_three_confirms_and_a_miss_kills_a_tentative_track():
    table = TrackTable(confirm=(3, 3))
    a, b = table.allocate(2)
    out = _hits(table, [a, b])
    assert table.status[a] == TENTATIVE and out.deleted.size == 0
    out = _hits(table, [a], [b])
    assert table.status[a] == CONFIRMED and out.confirmed.tolist() == [a]
    assert out.deleted.tolist() == [b] and table.status[b] == FREE


def test_two_of_three_survives_one_miss_and_dies_when_unreachable():
    table = TrackTable(confirm=(2, 3))
    a, b = table.allocate(2)
    _hits(table, [], [a, b])  # both: 1 hit of 2 scans; one scan left, could still reach 2
    assert table.status[a] == TENTATIVE and table.status[b] == TENTATIVE
    out = _hits(table, [a], [b])
    assert table.status[a] == CONFIRMED
    assert out.deleted.tolist() == [b]


def test_two_point_initiation_counts_two_hits():
    table = TrackTable(confirm=(3, 3))
    (a,) = table.allocate(1, initial_hits=2)
    assert table.status[a] == TENTATIVE
    _hits(table, [a])
    assert table.status[a] == CONFIRMED
    (b,) = table.allocate(1, initial_hits=3)
    assert table.status[b] == CONFIRMED


def test_confirmed_track_coasts_then_is_deleted_after_delete_after_misses():
    table = TrackTable(confirm=(1, 1), delete_after=3)
    (a,) = table.allocate(1, time=0.0)
    assert table.status[a] == CONFIRMED
    _hits(table, [], [a])
    assert table.status[a] == COASTING and table.misses[a] == 1
    _hits(table, [a])
    assert table.status[a] == CONFIRMED and table.misses[a] == 0
    _hits(table, [], [a])
    _hits(table, [], [a])
    assert table.status[a] == COASTING
    out = _hits(table, [], [a])
    assert out.deleted.tolist() == [a] and out.deleted_track_id.tolist() == [1]
    assert table.status[a] == FREE


def test_score_confirmation():
    table = TrackTable(confirm=(3, 10), score_confirm=5.0, score_delete=-2.0)
    a, b = table.allocate(2)
    table.record_scan(np.array([a, b]), np.array([], np.int64), hit_score=np.array([3.0, 1.0]))
    assert table.status[a] == TENTATIVE
    table.record_scan(np.array([a]), np.array([b]), hit_score=3.0, miss_score=-4.0)
    assert table.status[a] == CONFIRMED
    assert table.status[b] == FREE


def test_untouched_tracks_are_left_alone_and_vectorised_bulk():
    table = TrackTable(confirm=(3, 3), capacity=8)
    slots = table.allocate(10_000)
    hit = slots[::2]
    miss = slots[1::2]
    out = _hits(table, hit, miss)
    assert out.deleted.size == miss.size
    assert (table.status[hit] == TENTATIVE).all()
    assert table.age_scans[hit].tolist() == [2] * hit.size


def test_parse_confirm():
    assert parse_confirm("3/5") == (3, 5)
    for bad in ("3", "a/b", "4/3", "0/2"):
        with pytest.raises(ValueError):
            parse_confirm(bad)
