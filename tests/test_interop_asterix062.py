"""CAT062 sink: datagrams received over UDP, decoded by an independent decoder (CroatiaControl's C++ ASTERIX
decoder, PyPI asterix-decoder, its own XML category definitions) and compared field by field with the frame."""

from __future__ import annotations

import importlib.metadata
import socket

import pytest

from _interop_frames import ROWS, make_context, make_frame
from airpicture.interop.asterix062 import LSB_LATLON, Cat062Sink
from airpicture.picture import SinkSet

FT = 0.3048


@pytest.fixture(scope="module")
def decoder():
    """asterix-decoder's C extension (``_asterix``), initialised with the package's XML definitions. Its Python
    wrapper is also called ``asterix`` (like libasterix), so the extension is used directly."""
    try:
        import _asterix
        files = importlib.metadata.files("asterix-decoder")
    except (ImportError, importlib.metadata.PackageNotFoundError):
        pytest.skip("asterix-decoder is not installed (pip install '.[test]')")
    config = {str(f.locate()) for f in files if str(f).endswith(".xml") and "/config/" in str(f)}
    for path in sorted(config):  # asterix_bds.xml sorts first, as the categories need it
        _asterix.init(path)
    return _asterix


def _receive(sock) -> list[bytes]:
    out = []
    sock.settimeout(5.0)
    out.append(sock.recv(65536))
    sock.settimeout(0.3)
    try:
        while True:
            out.append(sock.recv(65536))
    except socket.timeout:
        pass
    return out


def test_cat062_decoded_independently_matches_the_picture(decoder):
    rows = [dict(r) for r in ROWS]
    rows[0]["identity_reason"] = "authenticated IFF (Mode 5 reply at 12:00:01)"
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    sink = Cat062Sink(f"udp://127.0.0.1:{rx.getsockname()[1]}", sac=25, sic=99, service_id=3)
    sinks = SinkSet([sink])
    sinks.open(make_context())
    epoch = 1_700_000_000.0
    frame = make_frame(1000.0, rows, epoch_unix=epoch)
    sinks.step(frame)
    first = [r for dg in _receive(rx) for r in decoder.parse(dg, 0)]
    sinks.step(make_frame(1001.0, rows[:1] + rows[2:], epoch_unix=epoch))  # track 12 leaves the picture
    second = [r for dg in _receive(rx) for r in decoder.parse(dg, 0)]
    sinks.close({})
    rx.close()

    assert [r["category"] for r in first] == [62] * len(rows)
    by_tn = {r["I040"]["TrkN"]["val"]: r for r in first}
    for rec in frame.records():
        d = by_tn[rec["track_id"]]
        assert (d["I010"]["SAC"]["val"], d["I010"]["SIC"]["val"], d["I015"]["SID"]["val"]) == (25, 99, 3)
        assert d["I070"]["ToT"]["val"] == pytest.approx((epoch + 1000.0) % 86400, abs=1 / 256)
        assert d["I105"]["Lat"]["val"] == pytest.approx(rec["lat"], abs=LSB_LATLON / 2 + 1e-6)
        assert d["I105"]["Lon"]["val"] == pytest.approx(rec["lon"], abs=LSB_LATLON / 2 + 1e-6)
        assert d["I185"]["Vx"]["val"] == pytest.approx(rec["v_east_mps"], abs=0.125)
        assert d["I185"]["Vy"]["val"] == pytest.approx(rec["v_north_mps"], abs=0.125)
        assert d["I130"]["Alt"]["val"] == pytest.approx(rec["alt_m"] / FT, abs=3.125)
        assert d["I220"]["RoC"]["val"] == pytest.approx(rec["v_up_mps"] / FT * 60, abs=3.125)
        st = {k: v["val"] for k, v in d["I080"].items()}
        assert st["TSB"] == 1 and st["TSE"] == 0
        assert st["AFF"] == int(rec["spoof"])
        assert st["CST"] == int(rec["status"] == "coasting")
        assert st["MON"] == int("," not in rec["sources"])
        assert st["SIM"] == 0  # a replay picture
        if rec["squawk"]:
            assert d["I060"]["Mode3A"]["val"] == rec["squawk"]
        else:
            assert "I060" not in d
        if rec["icao24"]:
            assert d["I380"]["ADR"]["ADR"]["val"].lower() == rec["icao24"]
        if rec["callsign"]:
            assert d["I380"]["ID"]["ACID"]["val"].strip() == rec["callsign"]
        if rec["sigma_h_m"] is not None:
            assert d["I500"]["APC"]["APC_X"]["val"] == pytest.approx(rec["sigma_h_m"], abs=0.25)
        if rec["sigma_v_m"] is not None:
            assert d["I500"]["AGA"]["AGA_Acc"]["val"] == pytest.approx(rec["sigma_v_m"] / FT, abs=3.125)
    st7 = {k: v["val"] for k, v in by_tn[7]["I080"].items()}
    st31 = {k: v["val"] for k, v in by_tn[31]["I080"].items()}
    st12 = {k: v["val"] for k, v in by_tn[12]["I080"].items()}
    assert st7["MD5"] == 1 and st31["MD5"] == 0  # authenticated Mode 5 -> friendly target
    assert st31["EMS"] == 1 and st31["SDS"] == 1 and st31["AFF"] == 1  # 7700, transponder only, spoof flag
    assert st12["SDS"] == 2 and st12["EMS"] == 0  # no transponder: non-cooperative only
    # next frame: the tracks go on (no TSB) and track 12 gets its last message (TSE)
    nxt = {r["I040"]["TrkN"]["val"]: {k: v["val"] for k, v in r["I080"].items()} for r in second}
    assert nxt[7]["TSB"] == 0 and nxt[31]["TSB"] == 0 and nxt[12]["TSE"] == 1
    s = sinks.summary()[sink.name]
    assert s["sent"] == s["datagrams"] == 2 and s["records"] == 6 and s["errors"] == 0


def test_large_frames_are_split_into_datagrams(decoder):
    from airpicture.interop.asterix062 import MAX_DATAGRAM, datagrams, track_record

    rows = [dict(ROWS[0], track_id=i) for i in range(200)]
    recs = [track_record(r, sac=1, sic=2, service_id=1, t_unix=0.0) for r in make_frame(5.0, rows).records()]
    dgs = datagrams(recs)
    assert len(dgs) > 1 and all(len(d) <= MAX_DATAGRAM for d in dgs)
    decoded = [r for d in dgs for r in decoder.parse(d, 0)]
    assert sorted(r["I040"]["TrkN"]["val"] for r in decoded) == list(range(200))


def test_bad_options():
    from airpicture.errors import InputError

    with pytest.raises(InputError, match="unsupported scheme"):
        Cat062Sink("tcp://127.0.0.1:4000")
    with pytest.raises(InputError, match="sac"):
        Cat062Sink("udp://127.0.0.1:4000", sac=300)
