"""Issue 4 acceptance on the demo, run as a user runs it (the CLI in a fresh process): with a real key store on
disk, and as the captured export unit without keys."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from airpicture.identity.keystore import KeyStore, WrapSource

PASSPHRASE = "correct horse battery staple demo"


def _demo(out: Path, *extra, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-m", "airpicture", "demo", "--no-serve", "-o", str(out), *extra],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc, json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    base = tmp_path_factory.mktemp("keyed")
    store_path = base / "unit.apks"
    store = KeyStore.create(store_path, WrapSource.passphrase(PASSPHRASE), scrypt_log2_n=14)
    secrets = store._raw_secrets_for_tests()
    store.close()
    proc, summary = _demo(base / "out", "--keystore", str(store_path),
                          env_extra={"AIRPICTURE_KEYSTORE_PASSPHRASE": PASSPHRASE})
    return base, proc, summary, secrets


@pytest.fixture(scope="module")
def export_unit(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    proc, summary = _demo(base / "out", "--no-keys")
    return base, proc, summary


def _rows(out: Path):
    table = pq.read_table(out / "tracks.parquet")
    return {name: np.asarray(table.column(name).to_pylist(), dtype=object) for name in table.column_names}


def test_identity_correctness_and_completeness_on_the_demo(keyed):
    _, _, summary, _ = keyed
    siap = summary["siap"]
    assert siap["id_correctness"] >= 0.95
    assert siap["id_completeness"] >= 0.95
    assert siap["id_ambiguity"] <= 0.02


def test_no_friendly_is_ever_suspect_or_hostile_and_friend_comes_only_from_authenticated_iff(keyed):
    _, _, summary, _ = keyed
    acceptance = summary["identity"]["acceptance"]
    assert acceptance["friendlies_shown_suspect_or_hostile"] == []
    assert acceptance["rules_giving_friend"] == ["authenticated IFF"]
    iff = summary["identity"]["iff"]
    assert iff["authenticated"] > 0
    for name, platform in iff["platforms"].items():
        if platform["key"] == "valid":
            assert platform.get("authenticated", 0) > 0, name
        else:
            assert platform.get("authenticated", 0) == 0, name  # wrong key, replay, none: never


def test_the_spoofer_is_flagged_within_30_s_of_radar_contact(keyed):
    _, _, summary, _ = keyed
    spoofers = summary["identity"]["acceptance"]["spoofers"]
    assert spoofers, "the demo has a spoofer"
    for name, s in spoofers.items():
        assert s["radar_contact_s"] is not None and s["first_flagged_s"] is not None, name
        assert 0 <= s["lead_s"] <= 30.0, (name, s)
        assert "suspect" in s["identities_shown"] or "hostile" in s["identities_shown"]


def test_every_track_row_carries_an_identity_and_its_reason(keyed):
    base, _, _, _ = keyed
    rows = _rows(base / "out")
    assert set(rows["identity"]) <= {"pending", "unknown", "assumed_friend", "friend", "neutral", "suspect",
                                      "hostile", "joker", "faker"}
    firm = rows["status"] != "tentative"
    # a confirmed track leaves Pending after the rule table's hysteresis (2 updates), never later
    for tid in np.unique(rows["track_id"][firm]):
        mine = firm & (rows["track_id"] == tid)
        order = np.argsort(rows["time"][mine].astype(float))
        pending = rows["identity"][mine][order] == "pending"
        assert pending.sum() <= 2 and not pending[2:].any(), tid
    assert all(r for r in rows["identity_reason"][firm])
    ident = json.loads((base / "out" / "identity.json").read_text())
    assert ident["tracks"] and all("history" in t for t in ident["tracks"])


def test_no_key_bytes_anywhere_in_a_run(keyed):
    # Every file the run left (outputs, the key store itself), the console output: none holds a key in any
    # common encoding.
    base, proc, _, secrets = keyed
    assert secrets
    forms = []
    for key in secrets.values():
        forms += [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key),
                  base64.b32encode(key), base64.urlsafe_b64encode(key)]
    blobs = [proc.stdout.encode(), proc.stderr.encode()]
    files = [p for p in base.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"summary.json", "tracks.parquet", "identity.json", "picture.png",
                                        "unit.apks"}
    blobs += [p.read_bytes() for p in files]
    for blob in blobs:
        for form in forms:
            assert form not in blob


def test_the_export_unit_without_keys_runs_and_nothing_is_friend_by_iff(export_unit, keyed):
    base, _, summary = export_unit
    iff = summary["identity"]["iff"]
    assert iff["authenticated"] == 0
    assert summary["identity"]["keys"]["keys"] == 0
    rows = _rows(base / "out")
    assert not np.any((rows["identity"] == "friend") & (rows["identity_rule"] == "authenticated IFF"))
    assert "friend" not in summary["identity"]["tracks_by_final_identity"]
    # the friendlies fall back to what the other rules allow - and are still never shown hostile
    assert summary["identity"]["acceptance"]["friendlies_shown_suspect_or_hostile"] == []
    # tracking is the same unit either way
    assert summary["n_tracks"] == keyed[2]["n_tracks"]
    assert summary["siap"]["completeness"] == pytest.approx(keyed[2]["siap"]["completeness"])
