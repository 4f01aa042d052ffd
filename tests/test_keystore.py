"""The confidential key store and the IFF authenticator (issue 4 §2-§3, §7).

Round trips, every byte of the file tampered with or cut off, wrong passphrases, writes that fail half-way,
zeroize, the authenticator's answers, and scans of everything the store shows or prints for the key bytes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airpicture.errors import InputError
from airpicture.identity import keystore as ks
from airpicture.identity.keys_cli import keys_app
from airpicture.identity.keystore import (
    BAD_MAC,
    NO_KEYS,
    REPLAYED_NONCE,
    STALE_SLOT,
    TAG_BYTES,
    UNKNOWN_KEY,
    Authenticator,
    KeyStore,
    KeyStoreError,
    WrapSource,
    zeroize,
)

PASS = "correct horse battery"
FAST = 14  # scrypt log2 N for tests (the default, 17, takes about a second per unlock)


# --------------------------------------------------------------------------------------------------------------
# helpers


def _new_passphrase_store(path: Path, **kw) -> KeyStore:
    return KeyStore.create(path, WrapSource.passphrase(PASS), scrypt_log2_n=FAST, **kw)


def _key_file(tmp_path: Path, name: str = "wrap.key") -> Path:
    return WrapSource.create_key_file(tmp_path / name)


def _leak_forms(secret: bytes) -> list[bytes]:
    """Every way a key could show up: raw windows of 8 bytes, hex windows of 16 digits (both cases), base64."""
    forms = [secret[i:i + 8] for i in range(0, len(secret) - 7, 4)]
    h = secret.hex()
    forms += [h[i:i + 16].encode() for i in range(0, len(h) - 15, 8)]
    forms += [h[i:i + 16].upper().encode() for i in range(0, len(h) - 15, 8)]
    forms += [base64.b64encode(secret), base64.urlsafe_b64encode(secret), base64.b64encode(secret)[:20],
              base64.urlsafe_b64encode(secret)[:20], base64.b32encode(secret)[:20]]
    return forms


def _assert_no_key(secrets: dict[str, bytes], *texts) -> None:
    assert secrets, "nothing to look for"
    for text in texts:
        blob = text if isinstance(text, bytes) else str(text).encode("utf-8", "surrogateescape")
        for key_id, secret in secrets.items():
            for form in _leak_forms(secret):
                assert form not in blob, f"key {key_id} material found in output"


def _folder(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


# --------------------------------------------------------------------------------------------------------------
# round trips


def test_round_trip_passphrase(tmp_path):
    path = tmp_path / "keys.apks"
    store = _new_passphrase_store(path)
    store.add_key("iff-mode5", key_id="day-2")
    store.add_key("datalink", valid_days=None)
    store.save()
    infos, raw = store.keys(), store._raw_secrets_for_tests()
    store.close()
    assert len(infos) == 3 and len(set(raw.values())) == 3
    assert all(len(v) == 32 for v in raw.values())

    with KeyStore.open(path, WrapSource.passphrase(PASS)) as again:
        assert again.keys() == infos
        assert again._raw_secrets_for_tests() == raw
    data = path.read_bytes()
    assert data[:4] == b"APKS" and data[4] == 1 and data[5] == ks.WRAP_SCRYPT and data[6] == FAST
    assert (len(data) - ks.HEADER_BYTES - 16) % ks.PAD_TO == 0          # padded plaintext
    _assert_no_key(raw, data)                                             # encrypted at rest
    assert b"day-2" not in data and b"datalink" not in data               # metadata encrypted too
    assert os.stat(path).st_mode & 0o077 == 0                             # 0600


def test_round_trip_key_file_forms(tmp_path):
    kf = _key_file(tmp_path)
    text = kf.read_text()
    assert len(text.strip()) == 64 and os.stat(kf).st_mode & 0o077 == 0
    path = tmp_path / "keys.apks"
    KeyStore.create(path, WrapSource.key_file(kf)).close()
    key = bytes.fromhex(text.strip())
    for form in (key, base64.b64encode(key) + b"\n", b"  " + text.upper().encode() + b"\n\n"):
        other = tmp_path / "other.key"
        other.write_bytes(form)
        with KeyStore.open(path, WrapSource.key_file(other)) as store:
            assert len(store.keys()) == 1
    with pytest.raises(KeyStoreError, match="already exists"):
        WrapSource.create_key_file(kf)


def test_passphrase_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KS_PASS", PASS)
    path = tmp_path / "keys.apks"
    KeyStore.create(path, WrapSource.from_env("MY_KS_PASS"), scrypt_log2_n=FAST).close()
    KeyStore.open(path, WrapSource.passphrase(PASS)).close()
    monkeypatch.delenv("MY_KS_PASS")
    with pytest.raises(KeyStoreError, match="MY_KS_PASS is not set"):
        WrapSource.from_env("MY_KS_PASS")


def test_create_refuses(tmp_path):
    path = tmp_path / "keys.apks"
    _new_passphrase_store(path).close()
    before = path.read_bytes()
    with pytest.raises(KeyStoreError, match="already exists"):
        _new_passphrase_store(path)
    assert path.read_bytes() == before
    with pytest.raises(KeyStoreError, match="too short"):
        KeyStore.create(tmp_path / "b.apks", WrapSource.passphrase("short"), scrypt_log2_n=FAST)
    with pytest.raises(KeyStoreError, match="log2 N"):
        KeyStore.create(tmp_path / "c.apks", WrapSource.passphrase(PASS), scrypt_log2_n=8)
    assert _folder(tmp_path) == ["keys.apks"]


def test_keys_validity_and_rotation(tmp_path):
    store = KeyStore.in_memory()
    first = store.add_key(valid_days=10)
    assert first.state == "active" and first.not_after - first.not_before == timedelta(days=10)
    old = store.add_key(key_id="old", not_before=ks._now() - timedelta(days=5), valid_days=1)
    assert old.status() == "expired"
    new, retired, removed = store.rotate(valid_days=30)
    assert [i.key_id for i in retired] == [first.key_id]
    assert [i.key_id for i in removed] == ["old"]
    states = {i.key_id: i.state for i in store.keys()}
    assert states == {first.key_id: "retired", new.key_id: "active"}
    with pytest.raises(KeyStoreError, match="already in the store"):
        store.add_key(key_id=new.key_id)
    with pytest.raises(KeyStoreError, match="bad key id"):
        store.add_key(key_id="no spaces")
    with pytest.raises(KeyStoreError, match="bad purpose"):
        store.add_key("IFF Mode5")


# --------------------------------------------------------------------------------------------------------------
# bad input: wrong passphrase, tampering, truncation, missing, unreadable


def test_wrong_passphrase_and_wrong_kind(tmp_path):
    path = tmp_path / "keys.apks"
    _new_passphrase_store(path).close()
    with pytest.raises(KeyStoreError) as err:
        KeyStore.open(path, WrapSource.passphrase(PASS + "!"))
    msg = str(err.value)
    assert str(path) in msg and "wrong passphrase" in msg and err.value.exit_code == 2
    with pytest.raises(KeyStoreError, match="locked with a passphrase, but a key file"):
        KeyStore.open(path, WrapSource.key_file(_key_file(tmp_path)))

    kpath = tmp_path / "k.apks"
    KeyStore.create(kpath, WrapSource.key_file(tmp_path / "wrap.key")).close()
    with pytest.raises(KeyStoreError, match="wrong key file"):
        KeyStore.open(kpath, WrapSource.key_file(_key_file(tmp_path, "other.key")))


def test_every_tampered_byte_is_refused(tmp_path):
    """Key-file store (fast to unlock): flip each bit position group of every byte, append a byte."""
    kf = _key_file(tmp_path)
    path = tmp_path / "keys.apks"
    KeyStore.create(path, WrapSource.key_file(kf)).close()
    good = path.read_bytes()
    for i in range(len(good)):
        for mask in (0x01, 0x80):
            bad = bytearray(good)
            bad[i] ^= mask
            path.write_bytes(bad)
            with pytest.raises(KeyStoreError) as err:
                KeyStore.open(path, WrapSource.key_file(kf))
            assert str(path) in str(err.value)
    path.write_bytes(good + b"\0")
    with pytest.raises(KeyStoreError, match="corrupt, truncated or was altered"):
        KeyStore.open(path, WrapSource.key_file(kf))
    path.write_bytes(good)
    KeyStore.open(path, WrapSource.key_file(kf)).close()


def test_tampered_passphrase_store(tmp_path):
    """Scrypt store: every header byte and a spread of body bytes."""
    path = tmp_path / "keys.apks"
    _new_passphrase_store(path).close()
    good = path.read_bytes()
    positions = list(range(ks.HEADER_BYTES)) + list(range(ks.HEADER_BYTES, len(good), 97)) + [len(good) - 1]
    for i in positions:
        bad = bytearray(good)
        bad[i] ^= 0x01  # keeps scrypt parameters small (log2 N 14 -> 15)
        path.write_bytes(bad)
        with pytest.raises(KeyStoreError):
            KeyStore.open(path, WrapSource.passphrase(PASS))


def test_header_is_the_associated_data(tmp_path):
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    path = tmp_path / "keys.apks"
    store = _new_passphrase_store(path)
    data = path.read_bytes()
    header, body = data[:ks.HEADER_BYTES], data[ks.HEADER_BYTES:]
    aes = AESGCM(bytes(store._wrapping.view()))
    nonce = header[-ks.NONCE_BYTES:]
    assert len(aes.decrypt(nonce, body, header)) % ks.PAD_TO == 0
    for aad in (None, header[:-1], b"\0" + header[1:]):
        with pytest.raises(InvalidTag):
            aes.decrypt(nonce, body, aad)
    store.close()


def test_decryption_buffers_are_wiped(tmp_path, monkeypatch):
    kf = _key_file(tmp_path)
    path = tmp_path / "keys.apks"
    with KeyStore.create(path, WrapSource.key_file(kf)) as store:
        raw = store._raw_secrets_for_tests()
    good = path.read_bytes()
    plain_len = len(good) - ks.HEADER_BYTES - ks.GCM_TAG_BYTES
    seen = []
    real_wipe = ks._wipe

    def spy(buf):
        if buf is not None:
            seen.append((len(buf), bytes(buf)))
        real_wipe(buf)
        assert buf is None or not any(buf)

    monkeypatch.setattr(ks, "_wipe", spy)
    KeyStore.open(path, WrapSource.key_file(kf)).close()
    plains = [content for n, content in seen if n == plain_len]
    assert plains and any(secret in plains[0] for secret in raw.values())  # the plaintext buffer was wiped
    seen.clear()
    bad = bytearray(good)
    bad[-1] ^= 1  # the GCM tag: decrypt_into may already have written plaintext when it fails
    path.write_bytes(bad)
    with pytest.raises(KeyStoreError):
        KeyStore.open(path, WrapSource.key_file(kf))
    assert [n for n, _ in seen].count(plain_len) == 1


def test_every_truncation_is_refused(tmp_path):
    kf = _key_file(tmp_path)
    path = tmp_path / "keys.apks"
    KeyStore.create(path, WrapSource.key_file(kf)).close()
    good = path.read_bytes()
    for n in range(len(good)):
        path.write_bytes(good[:n])
        with pytest.raises(KeyStoreError) as err:
            KeyStore.open(path, WrapSource.key_file(kf))
        msg = str(err.value)
        assert str(path) in msg
        assert ("truncated" in msg) if n < ks.MIN_FILE_BYTES else ("authentication failed" in msg)


def test_not_a_store_missing_folder_unreadable(tmp_path, monkeypatch):
    src = WrapSource.passphrase
    other = tmp_path / "notes.txt"
    other.write_text("hello, this is not a key store at all, just some text that is long enough" * 2)
    with pytest.raises(KeyStoreError, match="bad magic"):
        KeyStore.open(other, src(PASS))
    with pytest.raises(KeyStoreError, match="not found"):
        KeyStore.open(tmp_path / "missing.apks", src(PASS))
    with pytest.raises(KeyStoreError, match="folder"):
        KeyStore.open(tmp_path, src(PASS))

    path = tmp_path / "keys.apks"
    _new_passphrase_store(path).close()

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ks, "open", denied, raising=False)
    with pytest.raises(KeyStoreError) as err:
        KeyStore.open(path, src(PASS))
    assert str(err.value) == f"{path}: cannot read key store: Permission denied"


def test_bad_key_files(tmp_path):
    secret_text = "not a key but a secret-looking line " * 3
    bad = tmp_path / "bad.key"
    bad.write_text(secret_text)
    with pytest.raises(KeyStoreError) as err:
        WrapSource.key_file(bad)
    assert "256-bit key" in str(err.value) and secret_text.strip() not in str(err.value)
    with pytest.raises(KeyStoreError, match="not found"):
        WrapSource.key_file(tmp_path / "none.key")
    (tmp_path / "big.key").write_bytes(os.urandom(5000))
    with pytest.raises(KeyStoreError, match="too large"):
        WrapSource.key_file(tmp_path / "big.key")


# --------------------------------------------------------------------------------------------------------------
# atomic writes


def _fail_replace(monkeypatch):
    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ks.os, "replace", boom)


def test_failed_write_leaves_old_store_and_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "keys.apks"
    store = _new_passphrase_store(path)
    before = path.read_bytes()
    store.rotate()
    _fail_replace(monkeypatch)
    with pytest.raises(KeyStoreError) as err:
        store.save()
    assert str(err.value) == f"{path}: cannot write key store: No space left on device (nothing written)"
    assert path.read_bytes() == before
    assert _folder(tmp_path) == ["keys.apks"]
    with pytest.raises(KeyStoreError, match="cannot write"):
        _new_passphrase_store(tmp_path / "new.apks")
    assert _folder(tmp_path) == ["keys.apks"]


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    kf = _key_file(tmp_path)
    calls = []

    def fsync_fails(fd):
        calls.append(fd)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(ks.os, "fsync", fsync_fails)
    with pytest.raises(KeyStoreError, match="Input/output error"):
        KeyStore.create(tmp_path / "keys.apks", WrapSource.key_file(kf))
    assert calls and _folder(tmp_path) == ["wrap.key"]
    with pytest.raises(KeyStoreError, match="cannot write key file"):
        WrapSource.create_key_file(tmp_path / "second.key")
    assert _folder(tmp_path) == ["wrap.key"]


def test_save_overwrites_the_replaced_file(tmp_path):
    path = tmp_path / "keys.apks"
    store = _new_passphrase_store(path)
    before = path.read_bytes()
    fd = os.open(path, os.O_RDONLY)  # keeps the old inode readable after the rename
    try:
        store.rotate()
        store.save()
        os.lseek(fd, 0, os.SEEK_SET)
        old = os.read(fd, len(before) + 10)
    finally:
        os.close(fd)
    assert len(old) == len(before) and old != before
    assert before[ks.HEADER_BYTES:ks.HEADER_BYTES + 32] not in old
    KeyStore.open(path, WrapSource.passphrase(PASS)).close()


# --------------------------------------------------------------------------------------------------------------
# zeroize


def test_zeroize_overwrites_then_removes(tmp_path):
    path = tmp_path / "keys.apks"
    _new_passphrase_store(path).close()
    before = path.read_bytes()
    link = tmp_path / "same-inode"
    os.link(path, link)  # a second name for the same blocks: shows what zeroize wrote over them
    leftover = tmp_path / ".keys.apks.abc123.tmp"
    leftover.write_bytes(before)  # as a write killed half-way would leave
    report = zeroize(path)
    assert not path.exists() and not leftover.exists()
    assert report["bytes_overwritten"] == 2 * len(before) and report["temporary_files"] == 1
    after = link.read_bytes()
    assert len(after) == len(before) and after != before
    for i in range(0, len(before) - 16, 16):
        assert before[i:i + 16] not in after
    with pytest.raises(KeyStoreError, match="nothing to zeroize"):
        zeroize(path)


def test_zeroize_refuses_other_files(tmp_path):
    doc = tmp_path / "thesis.txt"
    doc.write_text("years of work")
    with pytest.raises(KeyStoreError, match="does not look like"):
        zeroize(doc)
    assert doc.read_text() == "years of work"
    zeroize(doc, force=True)
    assert not doc.exists()


def test_store_zeroize_drops_keys_in_memory(tmp_path):
    path = tmp_path / "keys.apks"
    store = _new_passphrase_store(path)
    auth = store.authenticator()
    tag = auth.tag("F-1", b"n1", 5)
    buffers = [k.secret._buf for k in store._keys]
    wrapping = store._wrapping._buf
    store.zeroize()
    assert not path.exists()
    assert all(b == bytearray(32) for b in buffers) and wrapping == bytearray(32)
    assert auth.verify("F-1", b"n1", 5, tag, now_slot=5) == UNKNOWN_KEY
    assert auth.key_ids == [] and not auth.can_tag
    with pytest.raises(KeyStoreError, match="closed or zeroized"):
        store.keys()


# --------------------------------------------------------------------------------------------------------------
# the authenticator


@pytest.fixture
def auth_store():
    store = KeyStore.in_memory()
    store.add_key(key_id="day-1")
    yield store
    store.close()


def test_authenticates_good_reply(auth_store):
    auth = auth_store.authenticator()
    tag = auth.tag("F16-01", b"\x01" * 8, 100)
    assert isinstance(tag, bytes) and len(tag) == TAG_BYTES == 12
    assert auth.verify("F16-01", b"\x01" * 8, 100, tag, now_slot=100) == ""
    # one challenge draws replies from every friendly in the beam: each verifies
    other = auth.tag("F16-02", b"\x01" * 8, 100)
    assert auth.verify("F16-02", b"\x01" * 8, 100, other, now_slot=100) == ""
    # a different interrogator (its own authenticator) verifies the same reply
    assert auth_store.authenticator().verify("F16-01", b"\x01" * 8, 100, tag, now_slot=101) == ""
    assert auth.counts["authenticated"] == 2


def test_bad_mac(auth_store):
    auth = auth_store.authenticator()
    nonce, tag = b"nonce-1", auth.tag("F16-01", b"nonce-1", 7)
    for i in range(ks.KEY_HANDLE_BYTES, TAG_BYTES):
        bad = bytearray(tag)
        bad[i] ^= 0x01
        assert auth.verify("F16-01", nonce, 7, bytes(bad), now_slot=7) == BAD_MAC
    assert auth.verify("F16-99", nonce, 7, tag, now_slot=7) == BAD_MAC   # other platform
    assert auth.verify("F16-01", b"nonce-2", 7, tag, now_slot=7) == BAD_MAC  # other challenge
    assert auth.verify("F16-01", nonce, 8, tag, now_slot=8) == BAD_MAC   # slot changed
    assert auth.verify("F16-01", nonce, 7, tag[:-1], now_slot=7) == BAD_MAC
    assert auth.verify("F16-01", nonce, 7, tag, now_slot=7) == ""        # the bad tries did not burn the nonce


def test_stale_slot(auth_store):
    auth = auth_store.authenticator(slot_tolerance=1)
    for slot, now, expected in ((10, 11, ""), (20, 19, ""), (30, 32, STALE_SLOT), (40, 38, STALE_SLOT)):
        tag = auth.tag("F-1", f"n{slot}".encode(), slot)
        assert auth.verify("F-1", f"n{slot}".encode(), slot, tag, now_slot=now) == expected
    wide = auth_store.authenticator(slot_tolerance=3)
    tag = wide.tag("F-1", b"x", 50)
    assert wide.verify("F-1", b"x", 50, tag, now_slot=53) == ""


def test_replayed_nonce(auth_store):
    auth = auth_store.authenticator(slot_tolerance=1)
    tag = auth.tag("F-1", b"challenge", 10)
    assert auth.verify("F-1", b"challenge", 10, tag, now_slot=10) == ""
    assert auth.verify("F-1", b"challenge", 10, tag, now_slot=10) == REPLAYED_NONCE
    assert auth.verify("F-1", b"challenge", 10, tag, now_slot=11) == REPLAYED_NONCE
    assert auth.verify("F-1", b"challenge", 10, tag, now_slot=12) == STALE_SLOT   # out of the window
    # the same nonce answered again in a new slot is still a replay while the first is remembered
    again = auth.tag("F-1", b"c2", 20)
    assert auth.verify("F-1", b"c2", 20, again, now_slot=20) == ""
    assert auth.verify("F-1", b"c2", 21, auth.tag("F-1", b"c2", 21), now_slot=21) == REPLAYED_NONCE
    assert auth.counts[REPLAYED_NONCE] == 3


def test_unknown_key_and_wrong_key(auth_store):
    auth = auth_store.authenticator()
    foreign = KeyStore.in_memory()
    foreign.add_key(key_id="enemy-guess")
    spoof = foreign.authenticator().tag("F-1", b"n", 1)
    assert auth.verify("F-1", b"n", 1, spoof, now_slot=1) == UNKNOWN_KEY
    # a wrong key under the right id: the handle matches, the MAC does not
    clone = KeyStore.in_memory()
    clone.add_key(key_id="day-1")
    wrong = clone.authenticator().tag("F-1", b"n", 1)
    assert auth.verify("F-1", b"n", 1, wrong, now_slot=1) == BAD_MAC
    assert auth.verify("F-1", b"n", 1, b"", now_slot=1) == UNKNOWN_KEY
    with pytest.raises(KeyStoreError, match="no usable key"):
        auth.tag("F-1", b"n", 1, key_id="nope")
    # other purposes and keys outside their validity are not loaded
    auth_store.add_key("datalink", key_id="dl")
    assert "dl" not in auth.key_ids and "dl" not in auth_store.authenticator().key_ids
    later = auth_store.authenticator(at=(ks._now() + timedelta(days=31)).replace(tzinfo=None))  # naive = UTC
    assert later.key_ids == [] and later.verify("F-1", b"m", 2, auth.tag("F-1", b"m", 2), now_slot=2) == UNKNOWN_KEY


def test_key_handles_stay_unique(auth_store):
    seen = {}
    for n in range(1_000_000):  # a birthday collision of the 4-byte handle turns up after ~80,000 ids
        key_id = f"id{n}"
        handle = ks._key_handle(key_id)
        if handle in seen:
            break
        seen[handle] = key_id
    first, second = seen[handle], key_id
    auth_store.add_key(key_id=first)
    with pytest.raises(KeyStoreError, match="same reply handle"):
        auth_store.add_key(key_id=second)


def test_no_store_nothing_authenticates(auth_store):
    tag = auth_store.authenticator().tag("F-1", b"n", 1)
    for unit in (NO_KEYS, Authenticator.without_keys()):
        assert unit.verify("F-1", b"n", 1, tag, now_slot=1) == UNKNOWN_KEY
        dud = unit.tag("F-1", b"n", 1)  # runs, but the reply never verifies
        assert len(dud) == TAG_BYTES and not unit.can_tag
        assert auth_store.authenticator().verify("F-1", b"n", 1, dud, now_slot=1) == UNKNOWN_KEY
    assert NO_KEYS.summary()["keys"] == []


def test_rotation_old_key_still_verifies(auth_store):
    before = auth_store.authenticator()
    old_tag = before.tag("F-1", b"n", 1)
    new, _, _ = auth_store.rotate()
    after = auth_store.authenticator()
    assert after.summary()["signing_key"] == new.key_id
    assert after.verify("F-1", b"n", 1, old_tag, now_slot=1) == ""          # retired, still valid
    new_tag = after.tag("F-1", b"m", 1)
    assert new_tag[:4] != old_tag[:4] and after.verify("F-1", b"m", 1, new_tag, now_slot=1) == ""
    assert after.tag("F-1", b"k", 1, key_id="day-1")[:4] == old_tag[:4]    # explicit retired key


def test_nothing_pickles(auth_store):
    for obj in (auth_store, auth_store.authenticator(), auth_store._keys[0].secret, WrapSource.passphrase(PASS)):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(obj)


# --------------------------------------------------------------------------------------------------------------
# key material never shown


def test_key_bytes_never_in_repr_summary_logs_or_errors(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "keys.apks"
    store = _new_passphrase_store(path)
    store.rotate()
    store.save()
    raw = store._raw_secrets_for_tests()
    auth = store.authenticator()
    tag = auth.tag("F-1", b"n", 1)
    auth.verify("F-1", b"n", 1, tag, now_slot=1)
    shown = [repr(store), str(store), repr(auth), str(auth), repr(store._keys), repr(store._keys[0].secret),
             str(store._keys[0].secret), f"{store._keys[0].secret}", repr(store.keys()),
             json.dumps(store.summary()), json.dumps(auth.summary()), repr(WrapSource.passphrase(PASS)),
             repr(store._wrapping)]
    errors = []
    for attempt in (lambda: KeyStore.open(path, WrapSource.passphrase("wrong wrong")),
                    lambda: auth.tag("F-1", b"n", 1, key_id="missing"),
                    lambda: store.add_key(key_id=store.keys()[0].key_id)):
        with pytest.raises(InputError) as err:
            attempt()
        errors.append(str(err.value))
        errors.append(repr(err.value))
    store.close()
    assert PASS not in " ".join(shown + errors)
    _assert_no_key(raw, *shown, *errors, caplog.text)
    for text in shown:  # the fingerprint is not a piece of the key either
        assert "redacted" in text or "KeyStore(" in text or "Authenticator(" in text or "fingerprint" in text \
            or "WrapSource(" in text or "_Key(" in text or "KeyInfo(" in text


def test_scan_helper_can_fail():
    secret = os.urandom(32)
    for leaked in (secret, secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(),
                   "x" + secret.hex()[20:40]):
        with pytest.raises(AssertionError):
            _assert_no_key({"k": secret}, leaked)


# --------------------------------------------------------------------------------------------------------------
# CLI


runner = CliRunner()


def _keys(args, *, input=None, env=None):
    result = runner.invoke(keys_app, args, input=input, env=env)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_cli_lifecycle_with_passphrase_env(tmp_path, monkeypatch):
    monkeypatch.delenv(ks.ENV_PASSPHRASE, raising=False)
    monkeypatch.setenv("KS_PASS", PASS)
    store = str(tmp_path / "keys.apks")
    common = ["--store", store, "--passphrase-env", "KS_PASS"]
    outputs = []
    r = _keys(["init", *common, "--scrypt-log2n", str(FAST)])
    assert r.exit_code == 0, r.stderr
    assert "key store created" in r.stdout
    outputs.append(r.stdout + r.stderr)
    r = _keys(["add", *common, "--id", "exercise-7", "--valid-from", "2030-01-01", "--valid-days", "2"])
    assert r.exit_code == 0, r.stderr
    outputs.append(r.stdout + r.stderr)
    r = _keys(["rotate", *common])
    assert r.exit_code == 0 and "new active key" in r.stdout and "retired" in r.stdout
    outputs.append(r.stdout + r.stderr)
    r = _keys(["list", *common, "--json"])
    assert r.exit_code == 0, r.stderr
    listed = json.loads(r.stdout)["keys"]
    outputs.append(r.stdout + r.stderr)
    # the key loaded ahead (valid from 2030) stays active through the rotation
    assert sorted((k["id"] == "exercise-7", k["state"]) for k in listed) == [
        (False, "active"), (False, "retired"), (True, "active")]
    ex = next(k for k in listed if k["id"] == "exercise-7")
    assert ex["not_before"] == "2030-01-01T00:00:00Z" and ex["not_after"] == "2030-01-03T00:00:00Z"
    assert ex["status"] == "not yet valid" and len(ex["fingerprint"]) == 16
    r = _keys(["list", *common])
    assert r.exit_code == 0 and "exercise-7" in r.stdout and ex["fingerprint"] in r.stdout
    outputs.append(r.stdout + r.stderr)

    with KeyStore.open(store, WrapSource.passphrase(PASS)) as opened:
        raw = opened._raw_secrets_for_tests()
        assert set(raw) == {k["id"] for k in listed}
    _assert_no_key(raw, *outputs)

    r = _keys(["zeroize", "--store", store], input="n\n")
    assert r.exit_code == 1 and Path(store).exists()
    r = _keys(["zeroize", "--store", store, "--yes"])
    assert r.exit_code == 0 and "zeroized" in r.stdout and not Path(store).exists()
    assert _folder(tmp_path) == []


def test_cli_prompt_and_key_file(tmp_path, monkeypatch):
    monkeypatch.delenv(ks.ENV_PASSPHRASE, raising=False)
    store = str(tmp_path / "p.apks")
    r = _keys(["init", "--store", store, "--scrypt-log2n", str(FAST), "--empty"], input=f"{PASS}\n{PASS}\n")
    assert r.exit_code == 0, r.stderr
    assert PASS not in r.stdout  # hidden
    r = _keys(["list", "--store", store], input=f"{PASS}\n")
    assert r.exit_code == 0 and "no keys" in r.stdout
    r = _keys(["list", "--store", store])  # no passphrase anywhere, no input
    assert r.exit_code == 2 and "no passphrase given" in r.stderr and store in r.stderr
    # the documented environment variable
    r = _keys(["add", "--store", store], env={ks.ENV_PASSPHRASE: PASS})
    assert r.exit_code == 0, r.stderr

    kstore, kf = str(tmp_path / "k.apks"), str(tmp_path / "k.key")
    r = _keys(["init", "--store", kstore, "--key-file", kf, "--create-key-file"])
    assert r.exit_code == 0, r.stderr
    assert Path(kf).exists() and Path(kf).read_text().strip() not in r.stdout + r.stderr
    r = _keys(["rotate", "--store", kstore, "--key-file", kf])
    assert r.exit_code == 0, r.stderr
    r = _keys(["zeroize", "--store", kstore, "--key-file", kf, "--yes"])
    assert r.exit_code == 0, r.stderr
    assert not Path(kstore).exists() and not Path(kf).exists() and "key file zeroized" in r.stdout


@pytest.mark.parametrize("case", ["missing", "wrong", "corrupt", "truncated", "exists", "not_store", "kind",
                                  "zeroize_missing", "bad_time", "both_sources"])
def test_cli_bad_input_one_line_exit_2(tmp_path, monkeypatch, case):
    monkeypatch.delenv(ks.ENV_PASSPHRASE, raising=False)
    monkeypatch.setenv("KS_PASS", PASS)
    path = tmp_path / "keys.apks"
    if case not in ("missing", "zeroize_missing"):
        _new_passphrase_store(path).close()
    common = ["--store", str(path), "--passphrase-env", "KS_PASS"]
    args = ["list", *common]
    expect = {"missing": "not found", "wrong": "wrong passphrase", "corrupt": "authentication failed",
              "truncated": "truncated", "exists": "already exists", "not_store": "bad magic",
              "kind": "locked with a passphrase", "zeroize_missing": "nothing to zeroize",
              "bad_time": "ISO 8601", "both_sources": "not both"}[case]
    if case == "wrong":
        monkeypatch.setenv("KS_PASS", "something else")
    elif case == "corrupt":
        data = bytearray(path.read_bytes())
        data[-5] ^= 0xFF
        path.write_bytes(data)
    elif case == "truncated":
        path.write_bytes(path.read_bytes()[:30])
    elif case == "exists":
        args = ["init", *common, "--scrypt-log2n", str(FAST)]
    elif case == "not_store":
        path.write_text("just some text, no key store here" * 3)
    elif case == "kind":
        args = ["list", "--store", str(path), "--key-file", str(_key_file(tmp_path))]
    elif case == "zeroize_missing":
        args = ["zeroize", "--store", str(path), "--yes"]
    elif case == "bad_time":
        args = ["add", *common, "--valid-from", "next tuesday"]
    elif case == "both_sources":
        args = ["list", *common, "--key-file", str(tmp_path / "x.key")]
    before = sorted(os.listdir(tmp_path))
    r = _keys(args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expect in lines[0], r.stderr
    if case not in ("bad_time", "both_sources"):
        assert str(path) in lines[0]
    assert sorted(os.listdir(tmp_path)) == before  # nothing new, no partial key file


def test_cli_failed_write_leaves_store_intact(tmp_path, monkeypatch):
    monkeypatch.setenv("KS_PASS", PASS)
    path = tmp_path / "keys.apks"
    _new_passphrase_store(path).close()
    before = path.read_bytes()
    _fail_replace(monkeypatch)
    for cmd in ("rotate", "add"):
        r = _keys([cmd, "--store", str(path), "--passphrase-env", "KS_PASS"])
        assert r.exit_code == 2
        assert r.stderr.strip() == f"error: {path}: cannot write key store: No space left on device (nothing written)"
        assert path.read_bytes() == before and _folder(tmp_path) == ["keys.apks"]
    r = _keys(["init", "--store", str(tmp_path / "new.apks"), "--passphrase-env", "KS_PASS",
               "--scrypt-log2n", str(FAST)])
    assert r.exit_code == 2 and _folder(tmp_path) == ["keys.apks"]


def test_airpicture_keys_command_wired(tmp_path):
    """The real entry point: `airpicture keys ...` in a fresh process; bad input exits 2 without a traceback."""
    env = {k: v for k, v in os.environ.items() if k != ks.ENV_PASSPHRASE}
    args = [sys.executable, "-m", "airpicture", "keys", "list", "--store", str(tmp_path / "none.apks")]
    result = subprocess.run(args, check=False, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "key store not found" in result.stderr and "none.apks" in result.stderr
