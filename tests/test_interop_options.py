"""--cot / --asterix / scenario [outputs]: sinks built and validated with file:line and field; the CLI wiring."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET

import pytest

from airpicture.errors import InputError
from airpicture.interop import sinks_from_options
from airpicture.interop.asterix062 import Cat062Sink
from airpicture.interop.cot import CotSink
from airpicture.scenario.loader import load_scenario

SCENARIO = """\
name = "outputs-test"
duration_s = 10
seed = 3

[[sensors]]
name = "radar"
type = "radar"
lat = 43.5
lon = 16.4
alt_m = 50
scan_period_s = 1.0

[[targets]]
name = "airliner"
class = "airliner"
waypoints = [
  { lat = 43.9, lon = 16.9, alt_m = 9000, speed_mps = 220 },
  { lat = 44.0, lon = 17.4 },
]

[outputs]
cot = ["udp://127.0.0.1:{cot_port}"]
cot_stale_s = 30
asterix_cat062 = "udp://127.0.0.1:{ast_port}"
asterix_sac = 25
asterix_sic = 99
"""


def _udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    return s, s.getsockname()[1]


def _write(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return load_scenario(str(p))


def test_cli_options_and_scenario_outputs(tmp_path):
    sc = _write(tmp_path, SCENARIO.replace("{cot_port}", "6969").replace("{ast_port}", "8600"))
    sinks = sinks_from_options(cot=["tcp://127.0.0.1:4242"], asterix=["udp://127.0.0.1:8601?sac=7&sic=8&sid=2"],
                               scenario=sc)
    assert [type(s) for s in sinks] == [CotSink, Cat062Sink, CotSink, Cat062Sink]
    assert sinks[0].dest.scheme == "tcp" and sinks[0].stale_s == 30.0
    assert (sinks[1].sac, sinks[1].sic, sinks[1].service_id) == (7, 8, 2)
    assert (sinks[3].sac, sinks[3].sic) == (25, 99) and sinks[2].dest.port == 6969
    assert len({s.name for s in sinks}) == 4
    assert sinks_from_options() == []


@pytest.mark.parametrize("bad, field, message", [
    ('cot = ["udp://127.0.0.1:6969", "http://x:1"]', "outputs.cot[1]", "unsupported scheme"),
    ('cot = "udp://127.0.0.1"', "outputs.cot", "no port"),
    ("asterix_sac = 256", "outputs.asterix_sac", "0-255"),
    ('asterix_cat062 = "tcp://127.0.0.1:1"', "outputs.asterix_cat062", "unsupported scheme"),
    ("cot_stale = 3", "outputs.cot_stale", "unknown output"),
])
def test_bad_outputs_name_file_line_and_field(tmp_path, bad, field, message):
    head = SCENARIO.split("[outputs]")[0]
    sc = _write(tmp_path, head + "[outputs]\n" + bad + "\n")
    n = head.count("\n") + 2  # the line of the bad key
    with pytest.raises(InputError) as err:
        sinks_from_options(scenario=sc)
    e = err.value
    assert e.source.endswith("s.toml") and e.line == n and e.field == field and message in e.message, str(e)


def test_bad_cli_urls():
    with pytest.raises(InputError, match="--cot"):
        sinks_from_options(cot=["udp://nohost"])
    with pytest.raises(InputError, match="unknown option 'foo'"):
        sinks_from_options(asterix=["udp://127.0.0.1:9?foo=1"])
    with pytest.raises(InputError, match="options are only for tls"):
        sinks_from_options(cot=["udp://127.0.0.1:9?cert=x"])


def test_run_sends_cot_and_cat062(tmp_path):
    """`airpicture run` with a scenario [outputs] and --cot: the frames of a real run reach both destinations."""
    from typer.testing import CliRunner

    from airpicture.cli import app

    cot_rx, cot_port = _udp()
    ast_rx, ast_port = _udp()
    extra_rx, extra_port = _udp()
    p = tmp_path / "s.toml"
    p.write_text(SCENARIO.replace("{cot_port}", str(cot_port)).replace("{ast_port}", str(ast_port)))
    res = CliRunner().invoke(app, ["run", str(p), "-o", str(tmp_path / "out"), "--no-serve", "--no-keys",
                                   "--cot", f"udp://127.0.0.1:{extra_port}"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    sinks = summary.get("sinks") or {}
    cot_names = [n for n in sinks if n.startswith("cot")]
    assert len(cot_names) == 2 and all(sinks[n]["errors"] == 0 for n in sinks)

    def drain(s):
        out = []
        try:
            while True:
                out.append(s.recv(65536))
        except socket.timeout:
            return out

    cot, extra, ast = drain(cot_rx), drain(extra_rx), drain(ast_rx)
    assert len(cot) == len(extra) == sum(sinks[n]["sent"] for n in cot_names) // 2
    assert cot  # the airliner is confirmed within the run: its events went out
    if cot:
        ev = ET.fromstring(cot[-1])
        assert ev.get("type").startswith("a-") and ev.get("uid").startswith("airpicture-outputs-test-T")
        assert ast and ast[-1][0] == 62


def test_replay_routes_a_pcap_to_the_cat048_path(tmp_path):
    from pathlib import Path

    from typer.testing import CliRunner

    from airpicture.cli import app

    capture = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "asterix_cat_034_048.pcap"
    if not capture.exists():
        pytest.skip("shared data not present")
    rx, port = _udp()
    res = CliRunner().invoke(app, ["replay", str(capture), "-o", str(tmp_path / "out"), "--no-serve",
                                   "--radar-site", "25/13=45.5,16.0,500", "--asterix", f"udp://127.0.0.1:{port}"])
    assert res.exit_code == 0, res.output
    assert "26 plots tracked -> 26 tracks started, 0 confirmed" in res.output
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["format"] == "asterix" and s["radar_sites"]["25/13"]["from"] == "option"
    assert s["sinks"][f"asterix062 udp://127.0.0.1:{port}"]["frames"] == 2  # 0.55 s across a second boundary
    bad = CliRunner().invoke(app, ["replay", str(capture), "-o", str(tmp_path / "o2"), "--format", "asterix",
                                   "--radar-site", "1,2"])
    assert bad.exit_code == 2 and "--radar-site" in bad.output
    rx.close()
