"""TransponderPicture, the API under `replay` and `ingest`: batches of any size, identity, time passing."""

from __future__ import annotations

import numpy as np
import pytest

from _sources_data import LONG_FLIGHT
from airpicture.replay import TransponderPicture
from airpicture.sources import read_file
from airpicture.tracks import CONFIRMED

TOULOUSE = (43.63, 1.37)


@pytest.fixture(scope="module")
def frames():
    return read_file(LONG_FLIGHT).frames


def test_batches_give_the_same_picture(frames):
    whole = TransponderPicture(reference=TOULOUSE)
    whole.feed(frames)
    pieces = TransponderPicture(reference=TOULOUSE)
    size = len(frames) // 20 + 1
    for start in range(0, len(frames), size):
        pieces.feed(frames.take(slice(start, start + size)))
    a, b = whole.summary(), pieces.summary()
    for key in ("messages", "decoded", "positions", "aircraft", "aircraft_with_positions", "tracks", "phantoms"):
        assert a[key] == b[key], key
    log_a, log_b = whole.update_log(), pieces.update_log()
    for log in (log_a, log_b):     # one track number per aircraft, one aircraft per track number
        pairs = set(zip(log.extra["icao24"].tolist(), log.track_id.tolist()))
        assert len(pairs) == len({p[0] for p in pairs}) == len({p[1] for p in pairs}) == a["tracks_started"]
    # the same aircraft track within a few metres (the tracker merges reports in windows per batch, so the
    # update times differ: the whole-file track interpolated to the batched one's times)
    klm_a = log_a.extra["icao24"] == "486257"
    klm_b = log_b.extra["icao24"] == "486257"
    ta, pa = log_a.time[klm_a], log_a.position[klm_a]
    tb, pb = log_b.time[klm_b], log_b.position[klm_b]
    assert abs(klm_a.sum() - klm_b.sum()) < 0.05 * klm_a.sum()
    inside = (tb >= ta[0]) & (tb <= ta[-1])
    interpolated = np.stack([np.interp(tb[inside], ta, pa[:, i]) for i in range(3)], axis=1)
    assert np.median(np.linalg.norm(interpolated - pb[inside], axis=1)) < 5.0


def test_identity_in_states_and_log(frames):
    picture = TransponderPicture(reference=TOULOUSE)
    first = frames.take(slice(0, 60_000))
    picture.feed(first)
    states = picture.states()
    assert len(states) and {"icao24", "callsign", "squawk", "emergency", "category", "sources",
                            "transponder_only", "source_mask"} <= set(states.extra)
    klm = states.extra["icao24"] == "486257"
    assert klm.sum() == 1
    assert states.extra["callsign"][klm][0] == "KLM1302" and states.extra["category"][klm][0] == "A3"
    assert states.extra["sources"][klm][0] == "adsb" and states.extra["transponder_only"][klm][0]
    log = picture.update_log()
    rows = log.extra["icao24"] == "486257"
    callsign = log.extra["callsign"][rows]
    # as of each row: nothing before the first identification, KLM1302 from then on
    known = callsign != ""
    assert known.any() and set(callsign[known]) == {"KLM1302"}
    assert np.all(np.diff(known.astype(int)) >= 0)
    assert np.all(log.status[rows][-10:] == CONFIRMED)


def test_advance_coasts_and_drops_silent_aircraft(frames):
    picture = TransponderPicture(reference=TOULOUSE)
    picture.feed(frames.take(slice(0, 60_000)))
    now = picture.now
    assert picture.summary()["tracks_now"] >= 1
    picture.advance(now + 20.0)        # > adsb_coast_after_s (15 s): coasting, still in the picture
    states = picture.states()
    assert len(states) and np.all(states.status[states.in_picture()] != CONFIRMED)
    picture.advance(now + 120.0)       # > adsb_drop_after_s (60 s): gone
    assert len(picture.states()) == 0 and picture.summary()["tracks_now"] == 0
    assert picture.summary()["tracks"] >= 1          # still counted as tracks the replay had


def test_empty_and_field_less_batches():
    from airpicture.sources import FrameBatch

    picture = TransponderPicture()
    assert len(picture.feed(FrameBatch.empty())) == 0
    assert len(picture.states()) == 0
    summary = picture.summary()
    assert summary["messages"] == 0 and summary["tracks"] == 0 and summary["msgs_per_s"] == 0


def test_the_legend_names_truth_only_when_there_is_truth():
    from airpicture.outputs.picture import _build_scene, _legend_handles

    without = [h.get_label() for h in _legend_handles(_build_scene((), None, None, (), ()))]
    assert "truth" not in without
