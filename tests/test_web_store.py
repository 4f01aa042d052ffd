"""The live display's store on its own (no server): records, deltas, history bounds, alerts as of a time, frames."""

from __future__ import annotations

import json

import numpy as np
import pytest
import websockets.frames

from airpicture.picture import PictureContext
from airpicture.picture.frame import PictureFrame, empty_columns
from airpicture.web.store import PictureStore, _changed, _Frame, alert_at, dumps, encode_records, records, ws_frame
from airpicture.web.synthetic import SyntheticPicture


def test_records_are_the_frames_records():
    frame = SyntheticPicture(5000, seed=3).frame(17.3)
    frame.columns["lat"][[3, 7]] = np.nan
    frame.columns["alt_m"][9] = np.inf
    assert records(frame.columns) == frame.records()
    rows = np.array([9, 2, 7])
    assert records(frame.columns, rows) == [frame.records()[i] for i in rows]
    assert records(empty_columns()) == []


def test_encoded_records_are_the_json_of_the_records():
    frame = SyntheticPicture(2000, seed=5).frame(3.25)
    c = frame.columns
    c["callsign"][:8] = ['a","b', "x\\", '","', "é中\n", ",", '"', "\\", "tab\there"]
    c["lat"][3], c["alt_m"][4], c["speed_mps"][5] = np.nan, np.inf, -np.inf
    c["track_id"][6] = -7
    assert encode_records(c) == dumps(records(c))
    rows = np.array([7, 0, 5, 1999])
    assert encode_records(c, rows) == dumps(records(c, rows))
    assert encode_records(c, np.array([], np.int64)) == b"[]"
    assert json.loads(encode_records(empty_columns())) == []
    c["callsign"][1] = None  # not text: the general path, same answer
    assert json.loads(encode_records(c)) == json.loads(dumps(records(c)))


def _frame(t, ids, lat=None):
    """Track i has row i of one synthetic picture (so the same id has the same values in two frames)."""
    rows = np.asarray(ids, np.int64)
    cols = {k: v[rows].copy() for k, v in SyntheticPicture(20).frame(t).columns.items()}
    cols["track_id"] = rows
    if lat is not None:
        cols["lat"] = np.asarray(lat, float)
    return _Frame.of(t, None, cols)


def test_a_delta_has_the_new_and_changed_rows_and_the_ids_gone():
    a = _frame(1.0, [5, 3, 9], lat=[50.0, 51.0, 52.0])
    b = _frame(1.0, [9, 3, 11], lat=[52.0, 51.5, 53.0])  # 5 gone, 3 moved, 9 unchanged, 11 new
    upsert, gone = _changed(a, b)
    assert sorted(b.columns["track_id"][upsert].tolist()) == [3, 11]
    assert gone.tolist() == [5]
    same, none = _changed(b, b)
    assert same.size == 0 and none.size == 0
    b.columns["lat"][0] = np.nan
    c = _Frame.of(1.0, None, {k: v.copy() for k, v in b.columns.items()})
    assert _changed(b, c)[0].size == 0  # NaN equals NaN here


def test_history_is_bounded_by_rows_and_frames():
    store = PictureStore(history_rows=1000, history_frames=50)
    store.open(PictureContext(name="x"))
    picture = SyntheticPicture(300)
    try:
        for t in range(1, 21):
            store.step(picture.frame(float(t)))
        start, end = store.time_range()
        assert end == 20.0 and start == 18.0  # 3 frames of 300 rows fit in 1000
        assert store.stats()["history_rows"] <= 1000
        assert store.frame_at(17.9) is None and store.frame_at(18.5).time == 18.0
        assert store.frame_at(None).time == 20.0
        trail = store.trail(1)
        assert [p["time"] for p in trail] == [18.0, 19.0, 20.0]
        small = PictureStore(history_frames=5)
        small.open(PictureContext(name="y"))
        for t in range(1, 11):
            small.step(SyntheticPicture(2).frame(float(t)))
        assert small.time_range() == (6.0, 10.0)
        small.step(SyntheticPicture(2).frame(3.0))  # time went back: a new input, a new history
        assert small.time_range() == (3.0, 3.0)
        small.stop()
    finally:
        store.stop()


def test_an_alert_as_it_stood():
    alert = {"id": "a", "raised": 10.0, "active": False, "cleared": 50.0, "acknowledged": 30.0,
             "acknowledged_by": "op", "timeline": [{"event": "raised", "time": 10.0}, {"event": "acknowledged",
                                                                                     "time": 30.0},
                                                   {"event": "cleared", "time": 50.0}]}
    assert alert_at(alert, 5.0) is None
    at20 = alert_at(alert, 20.0)
    assert at20["active"] and at20["cleared"] is None and at20["acknowledged"] is None
    assert [e["event"] for e in at20["timeline"]] == ["raised"]
    at40 = alert_at(alert, 40.0)
    assert at40["acknowledged_by"] == "op" and at40["active"]
    assert alert_at(alert, 60.0) == alert


@pytest.mark.parametrize("n", [0, 5, 125, 126, 65535, 65536, 200_000])
def test_the_shared_frame_is_a_websocket_text_frame(n):
    from websockets.streams import StreamReader

    payload = json.dumps({"x": "y" * n}).encode()
    reader = StreamReader()
    reader.feed_data(ws_frame(payload))
    gen = websockets.frames.Frame.parse(reader.read_exact, mask=False)
    try:
        next(gen)
    except StopIteration as done:
        parsed = done.value
    assert parsed.opcode == websockets.frames.Opcode.TEXT and parsed.fin and parsed.data == payload


def test_a_frame_is_kept_without_its_measurements():
    store = PictureStore()
    store.open(PictureContext(name="x"))
    try:
        f = SyntheticPicture(3).frame(1.0)
        f = PictureFrame(f.time, f.columns, [], {"time": np.zeros(2)}, None)
        store.step(f)
        assert not hasattr(store.frame_at(None), "measurements")
    finally:
        store.stop()
