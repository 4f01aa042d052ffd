"""Cursor-on-Target sink: types, event fields, a closed port, and a real taky server routing our events."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from _interop_frames import ROWS, make_context, make_frame
from airpicture.identity.standard import CLASSES, IDENTITIES
from airpicture.interop.cot import CotSink, all_types, cot_type, event_xml
from airpicture.picture import SinkSet


def test_types_are_atoms_for_every_identity_and_class():
    types = all_types()
    assert len(types) == len(IDENTITIES) * len(CLASSES) * 2
    for (identity, cls, civil), t in types.items():
        assert t.startswith("a-") and not t.startswith("t-"), t
        assert t.split("-")[2] == "A", t  # the air battle dimension
    assert cot_type("neutral", "fixed_wing") == "a-n-A-C-F"
    assert cot_type("hostile", "fixed_wing") == "a-h-A-M-F"
    assert cot_type("friend", "rotary_wing") == "a-f-A-M-H"
    assert cot_type("suspect", "uav") == "a-s-A-M-F-Q"
    assert cot_type("neutral", "uav") == "a-n-A-C-F-q"  # CoT's civil drone extension
    assert cot_type("hostile", "missile") == "a-h-A-W-M"
    assert cot_type("unknown", "unknown") == "a-u-A"
    assert cot_type("pending", "fixed_wing", "4baacd") == "a-p-A-C-F"
    assert cot_type("joker", "fixed_wing") == "a-j-A-M-F"
    assert cot_type("faker", "fixed_wing") == "a-k-A-M-F"
    assert cot_type("assumed_friend", "bird") == "a-a-A"


def test_event_fields():
    frame = make_frame(1000.0, epoch_unix=1.7e9)
    recs = frame.records()
    ev = ET.fromstring(event_xml(recs[0], picture_name="demo", t_unix=1.7e9 + 1000.0, stale_s=10.0))
    assert ev.get("uid") == "airpicture-demo-T7"
    assert ev.get("type") == "a-n-A-C-F" and ev.get("how") == "m-f"
    t = datetime.fromisoformat(ev.get("time").replace("Z", "+00:00")).timestamp()
    stale = datetime.fromisoformat(ev.get("stale").replace("Z", "+00:00")).timestamp()
    assert t == pytest.approx(1.7e9 + 1000.0, abs=1e-3) and stale - t == pytest.approx(10.0, abs=1e-3)
    pt = ev.find("point")
    assert float(pt.get("lat")) == pytest.approx(43.5712345, abs=1e-6)
    assert float(pt.get("hae")) == pytest.approx(10668.0) and float(pt.get("ce")) == 35.0
    assert float(pt.get("le")) == 60.0
    d = ev.find("detail")
    assert d.find("contact").get("callsign") == "THY9TX"
    assert float(d.find("track").get("speed")) == pytest.approx(200.0)
    assert float(d.find("track").get("course")) == pytest.approx(143.1, abs=0.05)
    assert "civil transponder" in d.find("remarks").text and d.find("_flow-tags_").get("airpicture")
    # unknown accuracies are CoT's 9999999; a track without callsign is called by its number
    ev2 = ET.fromstring(event_xml(recs[1], picture_name="demo", t_unix=0.0, stale_s=10.0))
    assert ev2.find("point").get("le") == "9999999.0" and ev2.get("how") == "m-a"
    assert ev2.find("detail/contact").get("callsign") == "T12"
    assert "threat high" in ev2.find("detail/remarks").text
    ev3 = ET.fromstring(event_xml(recs[2], picture_name="demo", t_unix=0.0, stale_s=10.0, simulated=True))
    assert ev3.get("how") == "m-g" and "EMERGENCY" in ev3.find("detail/remarks").text
    assert ev3.find("detail/remarks").text.startswith("SIMULATION")


def _free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_udp_events_arrive():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5.0)
    sink = CotSink(f"udp://127.0.0.1:{rx.getsockname()[1]}")
    sinks = SinkSet([sink])
    sinks.open(make_context())
    sinks.step(make_frame(1000.0))
    got = {ET.fromstring(rx.recv(65536)).get("uid") for _ in ROWS}
    sinks.close({})
    rx.close()
    assert got == {f"airpicture-test-picture-T{r['track_id']}" for r in ROWS}
    assert sinks.summary()[sink.name]["sent"] == 3 and sinks.summary()[sink.name]["errors"] == 0


def test_closed_port_is_retried_with_backoff_and_counted():
    port = _free_port()  # nobody listens here (yet)
    sink = CotSink(f"tcp://127.0.0.1:{port}", backoff_s=(0.05, 0.2))
    sinks = SinkSet([sink])
    sinks.open(make_context())
    for k in range(5):
        sinks.step(make_frame(1000.0 + k))  # returns at once: the picture never waits for the network
        time.sleep(0.02)
    time.sleep(0.3)
    mid = sink.stats()
    assert mid["sent"] == 0 and mid["errors"] >= 1 and mid["dropped"] >= 3 and not mid["connected"]
    srv = socket.create_server(("127.0.0.1", port))  # the destination comes up: the sink reconnects
    srv.settimeout(5.0)
    received = b""
    deadline = time.monotonic() + 10
    conn = None
    while time.monotonic() < deadline and received.count(b"</event>") < 3:
        sinks.step(make_frame(2000.0))
        if conn is None:
            try:
                conn, _ = srv.accept()
                conn.settimeout(0.5)
            except socket.timeout:
                continue
        try:
            received += conn.recv(65536)
        except socket.timeout:
            pass
    sinks.close({})
    srv.close()
    conn and conn.close()
    s = sinks.summary()[sink.name]
    assert received.count(b"</event>") >= 3
    assert s["sent"] >= 3 and s["connects"] >= 1 and s["errors"] >= 1 and s["dropped"] >= 3
    assert sinks.summary()[sink.name]["frames"] >= 6  # no step raised


# ----------------------------------------------------------------------------------- a real TAK server

def _taky_bin() -> str | None:
    exe = Path(sys.executable).with_name("taky")
    return str(exe) if exe.exists() else shutil.which("taky")


def _wait_port(port: int, proc, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"taky exited: {proc.stderr.read().decode(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("taky did not listen")


def _read_events(sock, n: int, timeout=15.0) -> list[ET.Element]:
    buf, events = b"", []
    deadline = time.monotonic() + timeout
    sock.settimeout(0.5)
    while time.monotonic() < deadline and len(events) < n:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        while b"</event>" in buf:
            doc, buf = buf.split(b"</event>", 1)
            doc = doc[doc.find(b"<event"):] + b"</event>"
            events.append(ET.fromstring(doc))
    return events


def _make_pki(d: Path) -> dict:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (PEM files), as a TAK server wants."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def cert(name, key, issuer_name, issuer_key, *, ca=False, san=None):
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
             .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    out = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airpicture test CA")])
    ca = cert("airpicture test CA", ca_key, ca_name, ca_key, ca=True)
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out["ca"] = str(d / "ca.pem")
    for name, san in (("server", [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                      ("client", None), ("eud", None)):
        key = ec.generate_private_key(ec.SECP256R1())
        c = cert(name, key, ca_name, ca_key, san=san)
        (d / f"{name}.pem").write_bytes(c.public_bytes(serialization.Encoding.PEM))
        (d / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
        out[name], out[name + "_key"] = str(d / f"{name}.pem"), str(d / f"{name}.key")
    return out


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_taky_routes_our_events_to_a_tak_client(tmp_path, transport):
    import ssl

    taky = _taky_bin()
    if taky is None:
        pytest.skip("taky is not installed (pip install '.[test]')")
    port = _free_port()
    conf = ("[taky]\nhostname = localhost\nnode_id = AIRPICTURE-TEST\nbind_ip = 127.0.0.1\n"
            f"root_dir = {tmp_path}\n\n[cot_server]\nport = {port}\n\n")
    url = f"tcp://127.0.0.1:{port}"
    if transport == "tls":  # taky's SSL mode: client certificates required, signed by its CA
        pki = _make_pki(tmp_path)
        conf += (f"[ssl]\nenabled = true\nclient_cert_required = true\nca = {pki['ca']}\n"
                 f"cert = {pki['server']}\nkey = {pki['server_key']}\ncert_db = {tmp_path / 'cert-db.txt'}\n")
        url = f"tls://127.0.0.1:{port}?ca={pki['ca']}&cert={pki['client']}&key={pki['client_key']}"
    else:
        conf += "[ssl]\nenabled = false\n"
    (tmp_path / "taky.conf").write_text(conf)
    proc = subprocess.Popen([taky, "-c", str(tmp_path / "taky.conf"), "-l", "info"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        _wait_port(port, proc)
        # a TAK client (as ATAK would): connect, introduce itself, then listen
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        if transport == "tls":
            ctx = ssl.create_default_context(cafile=pki["ca"])
            ctx.load_cert_chain(pki["eud"], pki["eud_key"])
            client = ctx.wrap_socket(client, server_hostname="127.0.0.1")
        now = datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        client.sendall(
            f'<event version="2.0" uid="TEST-EUD-1" type="a-f-G-U-C" how="h-g-i-g-o" time="{now}" start="{now}" '
            f'stale="2099-01-01T00:00:00.000Z"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/>'
            f'<detail><takv device="pytest" platform="pytest" os="linux" version="1"/><contact callsign="EUD1"/>'
            f'<__group name="Cyan" role="Team Member"/></detail></event>'.encode())
        time.sleep(0.5)
        sink = CotSink(url)
        sinks = SinkSet([sink])
        sinks.open(make_context("taky-test"))
        frame = make_frame(1000.0, epoch_unix=time.time() - 1000.0)
        sinks.step(frame)
        events = [e for e in _read_events(client, len(ROWS)) if e.get("uid", "").startswith("airpicture-")]
        sinks.close({})
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert sinks.summary()[sink.name]["sent"] == len(ROWS), sinks.summary()
    by_uid = {e.get("uid"): e for e in events}
    assert len(by_uid) == len(ROWS)
    for rec in frame.records():
        e = by_uid[f"airpicture-taky-test-T{rec['track_id']}"]
        assert e.get("type") == cot_type(rec["identity"], rec["track_class"], rec["icao24"])
        assert not e.get("type").startswith("t-")
        pt = e.find("point")
        assert float(pt.get("lat")) == pytest.approx(rec["lat"], abs=1e-6)  # taky re-prints 6 decimals
        assert float(pt.get("lon")) == pytest.approx(rec["lon"], abs=1e-6)
        assert float(pt.get("hae")) == pytest.approx(rec["alt_m"], abs=0.05)
        assert e.find("detail/contact").get("callsign") == (rec["callsign"] or f"T{rec['track_id']}")
