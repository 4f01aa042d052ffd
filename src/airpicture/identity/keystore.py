"""The confidential key store (issue 4 §3) and the IFF authenticator built on it (issue 4 §2).

A store is one file holding random 256-bit keys, each with an id, a purpose (``iff-mode5``), a creation time, a
validity window and a state (``active`` / ``retired``), encrypted at rest with AES-256-GCM. The wrapping key comes
from a passphrase through scrypt (per-store random salt) or from a key file. The whole file is authenticated: the
header is the AES-GCM associated data. Writes are atomic (temporary file in the same folder, fsync, rename), and
``zeroize`` overwrites the file with random bytes before removing it. docs/identity.md, "Key store", is the
contract: file layout, parameters, threat model and what zeroize cannot do.

Key material never appears in a repr, str, log line, summary, exception or error message: secrets live in
``_Secret`` objects (a bytearray that is wiped on close/zeroize, whose repr says "redacted", that refuse to be
pickled), and everything the store shows (``keys()``, ``summary()``, the CLI) is metadata plus a fingerprint.

The authenticator computes and checks the authenticated IFF reply: ``key handle (4 bytes) || HMAC-SHA-256
truncated to 8 bytes`` over the interrogator's nonce, the time slot and the platform identity. ``NO_KEYS`` is the
authenticator of a unit without a store (the captured export unit): everything runs, nothing authenticates.
"""

from __future__ import annotations

import base64
import binascii
import glob
import hashlib
import hmac as _std_hmac
import json
import logging
import os
import re
import secrets
import stat
import struct
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import InputError

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------------------
# Constants of the file format (version 1). See docs/identity.md, "Key store".

MAGIC = b"APKS"
FORMAT_VERSION = 1
WRAP_SCRYPT = 1            # wrapping key from a passphrase through scrypt
WRAP_KEY = 2               # wrapping key from a 256-bit key (key file), through HKDF-SHA-256
SALT_BYTES = 16
CHECK_BYTES = 8
NONCE_BYTES = 12
GCM_TAG_BYTES = 16
# magic(4) version(1) wrap kind(1) log2 N(1) r(1) p(1) reserved(1) salt(16) check(8) nonce(12)
_HEADER = struct.Struct(f">4sBBBBBB{SALT_BYTES}s{CHECK_BYTES}s{NONCE_BYTES}s")
HEADER_BYTES = _HEADER.size                         # 46
MIN_FILE_BYTES = HEADER_BYTES + GCM_TAG_BYTES       # 62
MAX_FILE_BYTES = 16 * 1024 * 1024                   # a store is a few KiB; refuse to load anything huge
PAD_TO = 1024                                       # the plaintext is padded: the size shows little of the key count

KEY_BYTES = 32                                      # 256-bit keys
# scrypt: N = 2**17, r = 8, p = 1 -> 128 MiB and about a second per unlock on a laptop (OWASP's minimum for
# scrypt). The parameters are stored in the header, so a store made with stronger ones opens with them.
SCRYPT_LOG2_N = 17
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_CREATE_LOG2_N = (14, 20)                     # what `create` accepts
_SCRYPT_MAX_MEMORY = 1 << 30                        # what `open` accepts: 128 * r * N <= 1 GiB
MIN_PASSPHRASE_CHARS = 8

DEFAULT_PURPOSE = "iff-mode5"
DEFAULT_VALID_DAYS = 30.0
ENV_STORE = "AIRPICTURE_KEYSTORE"                   # default store path, when set
ENV_PASSPHRASE = "AIRPICTURE_KEYSTORE_PASSPHRASE"   # the passphrase, when no other wrapping source is given

ACTIVE, RETIRED = "active", "retired"
STATES = (ACTIVE, RETIRED)

# Authenticated reply: a 4-byte key handle (which key, not the key) and the HMAC-SHA-256 truncated to 8 bytes.
KEY_HANDLE_BYTES = 4
MAC_BYTES = 8
TAG_BYTES = KEY_HANDLE_BYTES + MAC_BYTES
DEFAULT_SLOT_TOLERANCE = 1
# verify() reasons; '' means authenticated
BAD_MAC, STALE_SLOT, REPLAYED_NONCE, UNKNOWN_KEY = "bad_mac", "stale_slot", "replayed_nonce", "unknown_key"
FAILURES = (BAD_MAC, STALE_SLOT, REPLAYED_NONCE, UNKNOWN_KEY)

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PURPOSE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_MAC_DOMAIN = b"airpicture-iff-reply-v1\x00"
_HANDLE_DOMAIN = b"airpicture-key-handle-v1\x00"
_FINGERPRINT_DOMAIN = b"airpicture-key-fingerprint-v1\x00"
_HKDF_INFO = b"airpicture key store v1 wrapping key"


class KeyStoreError(InputError):
    """A key store problem the user can fix (missing, corrupt, wrong passphrase...): one line, exit code 2.

    Messages name the file and what is wrong, never any key material."""


def default_store_path() -> Path:
    """``$AIRPICTURE_KEYSTORE`` when set, else ``$XDG_CONFIG_HOME/airpicture/keystore.apks`` (``~/.config``)."""
    env = os.environ.get(ENV_STORE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "airpicture" / "keystore.apks"


# ---------------------------------------------------------------------------------------------------------------
# Secrets in memory


def _wipe(buf) -> None:
    """Overwrite a bytearray (or writable memoryview) with zeros in place."""
    if buf is None:
        return
    view = memoryview(buf)
    view[:] = bytes(len(view))
    view.release()


class _Secret:
    """Key material in a bytearray that can be wiped. Never shown, never pickled, never compared by value."""

    __slots__ = ("_buf",)

    def __init__(self, buf: bytearray):
        if not isinstance(buf, bytearray):
            raise TypeError("a secret is held in a bytearray")
        self._buf = buf

    @classmethod
    def random(cls, n: int = KEY_BYTES) -> _Secret:
        buf = bytearray(n)
        buf[:] = os.urandom(n)  # the temporary bytes object cannot be wiped; see docs (limits)
        return cls(buf)

    @property
    def alive(self) -> bool:
        return self._buf is not None

    def view(self) -> bytearray:
        if self._buf is None:
            raise KeyStoreError("the key store was closed or zeroized: its keys are gone")
        return self._buf

    def wipe(self) -> None:
        _wipe(self._buf)
        self._buf = None

    def __len__(self) -> int:
        return 0 if self._buf is None else len(self._buf)

    def __repr__(self) -> str:
        return "<secret redacted>" if self._buf is not None else "<secret wiped>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("key material cannot be pickled")

    def __eq__(self, other):  # identity only: no timing-leaky comparisons of key bytes
        return self is other

    __hash__ = object.__hash__


def _fingerprint(secret: _Secret) -> str:
    """A short hash of the key (64 bits, hex) to tell keys apart: it reveals nothing usable about the key."""
    h = hashlib.sha256(_FINGERPRINT_DOMAIN)
    h.update(secret.view())
    return h.hexdigest()[:16]


def _key_handle(key_id: str) -> bytes:
    """The 4 bytes a reply carries to say which key made it: a hash of the key id, not of the key."""
    return hashlib.sha256(_HANDLE_DOMAIN + key_id.encode("utf-8")).digest()[:KEY_HANDLE_BYTES]


# ---------------------------------------------------------------------------------------------------------------
# Wrapping-key sources


class WrapSource:
    """Where the wrapping key comes from: a passphrase (scrypt) or a 256-bit key (key file).

    Holds the passphrase / key bytes in a bytearray until the store has derived its wrapping key, then wipes it.
    ``description`` names the source in error messages (never its content).
    """

    __slots__ = ("_material", "description", "kind")

    def __init__(self, kind: int, material: bytearray, description: str):
        self.kind = kind
        self._material = _Secret(material)
        self.description = description

    @classmethod
    def passphrase(cls, text: str, *, description: str = "passphrase") -> WrapSource:
        if not isinstance(text, str) or text == "":
            raise KeyStoreError("the passphrase is empty", field=description)
        return cls(WRAP_SCRYPT, bytearray(text.encode("utf-8")), description)

    @classmethod
    def from_env(cls, var: str = ENV_PASSPHRASE) -> WrapSource:
        """The passphrase held in environment variable ``var``."""
        value = os.environ.get(var)
        if not value:
            raise KeyStoreError(f"environment variable {var} is not set or empty", field="--passphrase-env")
        return cls.passphrase(value, description=f"passphrase from ${var}")

    @classmethod
    def key_file(cls, path) -> WrapSource:
        """A key file: 32 raw bytes, or 64 hex digits, or base64 of 32 bytes (surrounding whitespace ignored)."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                raw = bytearray(4096)
                n = fh.readinto(raw)
                extra = fh.read(1)
        except FileNotFoundError:
            raise KeyStoreError("key file not found", source=str(path)) from None
        except IsADirectoryError:
            raise KeyStoreError("key file is a folder, not a file", source=str(path)) from None
        except OSError as exc:
            raise KeyStoreError(f"cannot read key file: {exc.strerror or type(exc).__name__}",
                                source=str(path)) from None
        try:
            if extra:
                raise KeyStoreError("key file is too large to be a 256-bit key", source=str(path))
            key = _parse_key_bytes(memoryview(raw)[:n])
            if key is None:
                raise KeyStoreError("key file does not hold a 256-bit key (32 raw bytes, 64 hex digits or "
                                    "base64 of 32 bytes)", source=str(path))
        finally:
            _wipe(raw)
        return cls(WRAP_KEY, key, f"key file {path}")

    @staticmethod
    def create_key_file(path) -> Path:
        """Write a new random 256-bit key as 64 hex digits to ``path`` (mode 0600; refuses to overwrite)."""
        path = Path(path)
        if path.exists():
            raise KeyStoreError("key file already exists: not overwritten", source=str(path))
        secret = _Secret.random()
        text = bytearray(secret.view().hex().encode("ascii") + b"\n")
        try:
            _atomic_write(path, text, what="key file")
        finally:
            _wipe(text)
            secret.wipe()
        return path

    def wipe(self) -> None:
        self._material.wipe()

    def __repr__(self) -> str:
        return f"WrapSource({self.description!r})"

    def __reduce__(self):
        raise TypeError("key material cannot be pickled")


def _parse_key_bytes(data: memoryview) -> bytearray | None:
    """32 raw bytes, 64 hex digits or base64 of 32 bytes -> a new bytearray; None if none of these."""
    if len(data) == KEY_BYTES:
        return bytearray(data)
    text = bytes(data).strip()  # a temporary copy: see the limits in docs/identity.md
    try:
        if len(text) == 2 * KEY_BYTES:
            out = bytearray(binascii.a2b_hex(text))
        else:
            out = bytearray(base64.b64decode(text, validate=True)) if text else bytearray()
    except (binascii.Error, ValueError):
        return None
    if len(out) != KEY_BYTES:
        _wipe(out)
        return None
    return out


def _derive_wrapping(source: WrapSource, salt: bytes, log2_n: int, r: int, p: int) -> tuple[_Secret, bytes]:
    """(AES-256 wrapping key, 8-byte check value) from the source: 64 bytes of KDF output, the first 32 the key,
    the next 8 the check value (stored in the header: it tells a wrong passphrase from a damaged file)."""
    out = bytearray(64)
    try:
        material = source._material.view()
        if source.kind == WRAP_SCRYPT:
            kdf = Scrypt(salt=salt, length=64, n=1 << log2_n, r=r, p=p)
        else:
            kdf = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=_HKDF_INFO)
        if hasattr(kdf, "derive_into"):
            kdf.derive_into(material, out)
        else:  # older cryptography: the derived bytes object cannot be wiped
            out[:] = kdf.derive(bytes(material))
        key = bytearray(out[:KEY_BYTES])
        check = bytes(out[KEY_BYTES:KEY_BYTES + CHECK_BYTES])
    finally:
        _wipe(out)
    return _Secret(key), check


# ---------------------------------------------------------------------------------------------------------------
# Keys


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _utc(t: datetime) -> datetime:
    """Aware UTC; a naive time is taken as UTC (not local time)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, *, field: str = "time") -> datetime:
    """ISO 8601 date or date-time; a time without a zone is UTC."""
    try:
        t = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise KeyStoreError(f"not an ISO 8601 time: {text!r}", field=field) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: everything but the key. ``not_after`` None = no end."""

    key_id: str
    purpose: str
    state: str
    created: datetime
    not_before: datetime
    not_after: datetime | None
    retired_at: datetime | None
    fingerprint: str

    def valid_at(self, t: datetime) -> bool:
        return self.not_before <= t and (self.not_after is None or t < self.not_after)

    def status(self, t: datetime | None = None) -> str:
        """``active`` / ``retired``, or ``expired`` / ``not yet valid`` by the clock."""
        t = t or _now()
        if self.not_after is not None and t >= self.not_after:
            return "expired"
        if t < self.not_before:
            return "not yet valid"
        return self.state

    def as_dict(self) -> dict:
        return {"id": self.key_id, "purpose": self.purpose, "state": self.state, "status": self.status(),
                "created": _iso(self.created), "not_before": _iso(self.not_before),
                "not_after": _iso(self.not_after), "retired_at": _iso(self.retired_at),
                "fingerprint": self.fingerprint}


# ---------------------------------------------------------------------------------------------------------------
# Files


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _overwrite_fd(fd: int) -> int:
    """Overwrite an open file's bytes in place with random bytes; fsync. Returns the number of bytes."""
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    done = 0
    while done < size:
        chunk = os.urandom(min(1 << 20, size - done))
        done += os.write(fd, chunk)
    os.fsync(fd)
    return size


def _scrub_and_unlink(path: Path) -> int:
    """Overwrite a regular file with random bytes, fsync, remove it. Returns the bytes overwritten."""
    n = 0
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        fd = None
    try:
        if fd is not None and stat.S_ISREG(os.fstat(fd).st_mode):
            n = _overwrite_fd(fd)
    finally:  # removed even when the overwrite failed
        if fd is not None:
            os.close(fd)
        os.unlink(path)
    return n


def _temp_pattern(path: Path) -> str:
    return str(path.parent / f".{path.name}.*.tmp")


def _atomic_write(path: Path, data, *, what: str = "key store") -> None:
    """Write ``data`` to ``path`` so that ``path`` is always either the old file or the whole new one.

    Temporary file (mode 0600) in the same folder, write, fsync, ``os.replace``, fsync the folder. On any failure
    the temporary file is overwritten and removed. The replaced old file, when no other name links to it, is
    overwritten with random bytes after the rename (its blocks held the previous ciphertext)."""
    path = Path(path)
    real = Path(os.path.realpath(path))
    folder = real.parent
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{real.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            old = os.open(real, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            old = None
        try:
            os.replace(tmp, real)
            tmp = None
            _fsync_dir(folder)
            if old is not None:
                st = os.fstat(old)
                if stat.S_ISREG(st.st_mode) and st.st_nlink == 0:
                    _overwrite_fd(old)
        finally:
            if old is not None:
                os.close(old)
    except OSError as exc:
        raise KeyStoreError(f"cannot write {what}: {exc.strerror or type(exc).__name__} (nothing written)",
                            source=str(path)) from None
    finally:
        if tmp is not None:
            try:
                _scrub_and_unlink(Path(tmp))
            except OSError:
                pass


def zeroize(path=None, *, force: bool = False) -> dict:
    """Destroy a key store file: overwrite it (and any temporary file a crashed write left beside it) with random
    bytes, fsync, remove, fsync the folder. Needs no passphrase. Returns what was done (no secrets). A file that
    does not start like a key store is refused (a mistyped path must not destroy something else) unless ``force``.

    What this cannot do (copy-on-write or journaling file systems, SSD wear levelling, snapshots, backups, swap)
    is in docs/identity.md; the encryption is what protects copies it cannot reach."""
    path = Path(path) if path is not None else default_store_path()
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise KeyStoreError("no key store here: nothing to zeroize", source=str(path)) from None
    except OSError as exc:
        raise KeyStoreError(f"cannot zeroize: {exc.strerror or type(exc).__name__}", source=str(path)) from None
    real = Path(os.path.realpath(path))
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):
            raise KeyStoreError("not a regular file: not zeroized", source=str(path))
        with open(real, "rb") as fh:
            head = fh.read(len(MAGIC))
        if head != MAGIC and head and not force:
            raise KeyStoreError("does not look like an airpicture key store (bad magic): not zeroized "
                                "(--force to overwrite it anyway)", source=str(path))
        n = _scrub_and_unlink(real)
        if stat.S_ISLNK(st.st_mode):
            os.unlink(path)
        temps = 0
        for leftover in glob.glob(_temp_pattern(real)):
            n += _scrub_and_unlink(Path(leftover))
            temps += 1
        _fsync_dir(real.parent)
    except OSError as exc:
        raise KeyStoreError(f"cannot zeroize: {exc.strerror or type(exc).__name__}", source=str(path)) from None
    log.info("key store zeroized: %s (%d bytes overwritten)", path, n)
    return {"path": str(path), "bytes_overwritten": n, "temporary_files": temps}


# ---------------------------------------------------------------------------------------------------------------
# The store


@dataclass
class _Key:
    info: KeyInfo
    secret: _Secret

    def __repr__(self) -> str:
        return f"_Key({self.info.key_id!r}, {self.info.purpose!r}, {self.info.state!r})"


class KeyStore:
    """An open key store. Create with ``KeyStore.create`` / ``KeyStore.open`` / ``KeyStore.in_memory``; close
    (wipes the keys in memory) with ``close()`` or a ``with`` block."""

    def __init__(self, path: Path | None, *, _header=None, _wrapping: _Secret | None = None,
                 created: datetime | None = None):
        self.path = None if path is None else Path(path)
        self._header = _header            # (kind, log2_n, r, p, salt, check)
        self._wrapping = _wrapping
        self._keys: list[_Key] = []
        self.created = created or _now()
        self._closed = False

    # -- opening ------------------------------------------------------------------------------------------------

    @classmethod
    def in_memory(cls) -> KeyStore:
        """A store that is never written (simulated platforms, tests). ``save()`` is a no-op."""
        return cls(None)

    @classmethod
    def create(cls, path, source: WrapSource, *, scrypt_log2_n: int = SCRYPT_LOG2_N, scrypt_r: int = SCRYPT_R,
               scrypt_p: int = SCRYPT_P, first_key: bool = True, purpose: str = DEFAULT_PURPOSE,
               valid_days: float | None = DEFAULT_VALID_DAYS) -> KeyStore:
        """Make a new store at ``path`` (refuses to overwrite one) and write it, with one active key of
        ``purpose`` unless ``first_key`` is False. ``source`` is wiped once the wrapping key is derived."""
        path = Path(path)
        try:
            if os.path.lexists(path):
                raise KeyStoreError("a key store already exists here: not overwritten (zeroize it first, or choose "
                                    "another --store)", source=str(path))
            if source.kind == WRAP_SCRYPT:
                lo, hi = SCRYPT_CREATE_LOG2_N
                if not lo <= int(scrypt_log2_n) <= hi:
                    raise KeyStoreError(f"scrypt log2 N must be in {lo}..{hi}", field="scrypt_log2_n")
                if not 1 <= scrypt_r <= 16 or not 1 <= scrypt_p <= 4:
                    raise KeyStoreError("scrypt r must be in 1..16 and p in 1..4", field="scrypt")
                if len(source._material) < MIN_PASSPHRASE_CHARS:
                    raise KeyStoreError(f"passphrase too short: at least {MIN_PASSPHRASE_CHARS} characters",
                                        field=source.description)
                params = (int(scrypt_log2_n), int(scrypt_r), int(scrypt_p))
            else:
                params = (0, 0, 0)
            salt = os.urandom(SALT_BYTES)
            wrapping, check = _derive_wrapping(source, salt, *params)
        finally:
            source.wipe()
        store = cls(path, _header=(source.kind, *params, salt, check), _wrapping=wrapping)
        if first_key:
            store.add_key(purpose, valid_days=valid_days)
        store.save()
        log.info("key store created: %s", path)
        return store

    @classmethod
    def open(cls, path, source: WrapSource) -> KeyStore:
        """Open and decrypt the store at ``path``. Every problem is a KeyStoreError naming the file."""
        path = Path(path)
        try:
            data = _read_store_file(path)
            return cls._decrypt(path, data, source)
        finally:
            source.wipe()

    @classmethod
    def _decrypt(cls, path: Path, data: bytes, source: WrapSource) -> KeyStore:
        where = str(path)
        if len(data) < MIN_FILE_BYTES:
            if data[:len(MAGIC)] != MAGIC[:len(data[:len(MAGIC)])]:
                raise KeyStoreError("not an airpicture key store (bad magic)", source=where)
            raise KeyStoreError(f"key store is truncated ({len(data)} bytes; a store has at least "
                                f"{MIN_FILE_BYTES})", source=where)
        magic, version, kind, log2_n, r, p, reserved, salt, check, nonce = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise KeyStoreError("not an airpicture key store (bad magic)", source=where)
        if version != FORMAT_VERSION:
            raise KeyStoreError(f"key store format version {version} is not supported (this airpicture reads "
                                f"version {FORMAT_VERSION})", source=where)
        if reserved != 0:
            raise KeyStoreError("key store header is corrupt (reserved byte set)", source=where)
        if kind == WRAP_SCRYPT:
            if not (10 <= log2_n <= 24 and 1 <= r <= 32 and 1 <= p <= 16
                    and 128 * r * (1 << log2_n) <= _SCRYPT_MAX_MEMORY):
                raise KeyStoreError("key store header is corrupt (scrypt parameters out of range)", source=where)
        elif kind == WRAP_KEY:
            if (log2_n, r, p) != (0, 0, 0):
                raise KeyStoreError("key store header is corrupt (parameters on a key-file store)", source=where)
        else:
            raise KeyStoreError(f"key store header is corrupt (unknown wrapping kind {kind})", source=where)
        if kind != source.kind:
            has = "a passphrase" if kind == WRAP_SCRYPT else "a key file"
            given = "a passphrase" if source.kind == WRAP_SCRYPT else "a key file"
            raise KeyStoreError(f"this key store is locked with {has}, but {given} was given", source=where)
        wrapping, expected = _derive_wrapping(source, salt, log2_n, r, p)
        if not _std_hmac.compare_digest(expected, check):
            wrapping.wipe()
            what = "passphrase" if kind == WRAP_SCRYPT else "key file"
            detail = "" if source.description == what else f" ({source.description})"
            raise KeyStoreError(f"wrong {what}{detail}, or the store's header was altered", source=where)
        header = data[:HEADER_BYTES]
        body = data[HEADER_BYTES:]
        plain = bytearray(len(body) - GCM_TAG_BYTES)
        try:
            aes = AESGCM(wrapping.view())
            try:
                if hasattr(aes, "decrypt_into"):
                    aes.decrypt_into(nonce, body, header, plain)
                else:  # older cryptography: the plaintext bytes object cannot be wiped
                    plain[:] = aes.decrypt(nonce, body, header)
            except InvalidTag:
                wrapping.wipe()
                raise KeyStoreError("key store is corrupt, truncated or was altered (authentication failed)",
                                    source=where) from None
            store = cls(path, _header=(kind, log2_n, r, p, salt, check), _wrapping=wrapping)
            try:
                store._load_plaintext(plain)
            except BaseException:
                store.close()
                raise
            return store
        finally:
            _wipe(plain)  # also when the tag failed: decrypt_into may have written plaintext

    def _load_plaintext(self, plain: bytearray) -> None:
        where = str(self.path) if self.path else None

        def bad(what: str) -> KeyStoreError:
            return KeyStoreError(f"key store content is malformed ({what})", source=where)

        if len(plain) < 4:
            raise bad("too short")
        (meta_len,) = struct.unpack_from(">I", plain)
        if 4 + meta_len > len(plain):
            raise bad("metadata length")
        try:
            meta = json.loads(bytes(plain[4:4 + meta_len]).decode("utf-8"))
            entries = meta["keys"]
            self.created = parse_time(meta["created"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise bad("metadata") from None
        if not isinstance(entries, list):
            raise bad("metadata")
        offset = 4 + meta_len
        if offset + KEY_BYTES * len(entries) > len(plain):
            raise bad("fewer keys than listed")
        seen = set()
        for i, entry in enumerate(entries):
            try:
                key_id, purpose, state = str(entry["id"]), str(entry["purpose"]), str(entry["state"])
                created, not_before = parse_time(entry["created"]), parse_time(entry["not_before"])
                not_after = None if entry.get("not_after") is None else parse_time(entry["not_after"])
                retired_at = None if entry.get("retired_at") is None else parse_time(entry["retired_at"])
            except (KeyError, TypeError, KeyStoreError):
                raise bad(f"key {i + 1}") from None
            if state not in STATES or key_id in seen or not _ID_RE.match(key_id):
                raise bad(f"key {i + 1}")
            seen.add(key_id)
            secret = _Secret(plain[offset:offset + KEY_BYTES])  # bytearray slice: a copy we own and can wipe
            offset += KEY_BYTES
            info = KeyInfo(key_id, purpose, state, created, not_before, not_after, retired_at, _fingerprint(secret))
            self._keys.append(_Key(info, secret))

    # -- writing ------------------------------------------------------------------------------------------------

    def _plaintext(self) -> bytearray:
        meta = {"created": _iso(self.created),
                "keys": [{"id": k.info.key_id, "purpose": k.info.purpose, "state": k.info.state,
                          "created": _iso(k.info.created), "not_before": _iso(k.info.not_before),
                          "not_after": _iso(k.info.not_after), "retired_at": _iso(k.info.retired_at)}
                         for k in self._keys]}
        blob = json.dumps(meta, separators=(",", ":")).encode("utf-8")
        n = 4 + len(blob) + KEY_BYTES * len(self._keys)
        plain = bytearray(n + (-n) % PAD_TO)
        struct.pack_into(">I", plain, 0, len(blob))
        plain[4:4 + len(blob)] = blob
        offset = 4 + len(blob)
        for k in self._keys:
            plain[offset:offset + KEY_BYTES] = k.secret.view()
            offset += KEY_BYTES
        return plain

    def save(self) -> None:
        """Encrypt and write the whole store atomically (fresh random GCM nonce each time)."""
        self._check_open()
        if self.path is None:
            return
        kind, log2_n, r, p, salt, check = self._header
        header = _HEADER.pack(MAGIC, FORMAT_VERSION, kind, log2_n, r, p, 0, salt, check, os.urandom(NONCE_BYTES))
        plain = self._plaintext()
        try:
            body = AESGCM(self._wrapping.view()).encrypt(header[-NONCE_BYTES:], plain, header)
        finally:
            _wipe(plain)
        _atomic_write(self.path, header + body)
        log.info("key store written: %s (%d keys)", self.path, len(self._keys))

    # -- keys ---------------------------------------------------------------------------------------------------

    def keys(self, purpose: str | None = None) -> list[KeyInfo]:
        """Metadata of every key (of ``purpose``), oldest first. Never the key bytes."""
        self._check_open()
        return [k.info for k in self._keys if purpose is None or k.info.purpose == purpose]

    def add_key(self, purpose: str = DEFAULT_PURPOSE, *, key_id: str | None = None,
                not_before: datetime | None = None, valid_days: float | None = DEFAULT_VALID_DAYS,
                not_after: datetime | None = None) -> KeyInfo:
        """A new random 256-bit active key (in memory: call ``save()``). Validity from ``not_before`` (default
        now) for ``valid_days`` (None: no end) unless ``not_after`` is given."""
        self._check_open()
        if not isinstance(purpose, str) or not _PURPOSE_RE.match(purpose):
            raise KeyStoreError(f"bad purpose {purpose!r}: lower-case letters, digits, '.', '_' or '-'",
                                field="purpose")
        ids = {k.info.key_id for k in self._keys}
        handles = {_key_handle(i) for i in ids}  # replies name keys by a 4-byte hash of the id: keep it unique
        if key_id is None:
            key_id = secrets.token_hex(4)
            while key_id in ids or _key_handle(key_id) in handles:
                key_id = secrets.token_hex(4)
        elif not isinstance(key_id, str) or not _ID_RE.match(key_id):
            raise KeyStoreError(f"bad key id {key_id!r}: letters, digits, '.', '_' or '-' (at most 64)",
                                field="id")
        elif key_id in ids:
            raise KeyStoreError(f"key id {key_id!r} is already in the store", field="id")
        elif _key_handle(key_id) in handles:
            raise KeyStoreError(f"key id {key_id!r} has the same reply handle as a key in the store: choose "
                                "another id", field="id")
        now = _now()
        start = now if not_before is None else _utc(not_before)
        not_after = None if not_after is None else _utc(not_after)
        if not_after is None and valid_days is not None:
            if not valid_days > 0:
                raise KeyStoreError("validity must be positive", field="valid_days")
            not_after = start + timedelta(days=float(valid_days))
        if not_after is not None and not_after <= start:
            raise KeyStoreError("validity ends before it starts", field="not_after")
        secret = _Secret.random()
        info = KeyInfo(key_id, purpose, ACTIVE, now, start, not_after, None, _fingerprint(secret))
        self._keys.append(_Key(info, secret))
        log.info("key added: id=%s purpose=%s", key_id, purpose)
        return info

    def rotate(self, purpose: str = DEFAULT_PURPOSE, *, valid_days: float | None = DEFAULT_VALID_DAYS
               ) -> tuple[KeyInfo, list[KeyInfo], list[KeyInfo]]:
        """Add a new active key of ``purpose`` and retire the active ones already in use (they keep verifying
        until their validity ends; keys loaded ahead, not yet valid, stay active). Keys whose validity has ended
        are removed. Returns (new, retired, removed)."""
        self._check_open()
        now = _now()
        removed = [k for k in self._keys if k.info.not_after is not None and k.info.not_after <= now]
        # keys loaded ahead (validity not started) stay active: only the ones in use now are retired
        for k in removed:
            k.secret.wipe()
        self._keys = [k for k in self._keys if all(k is not gone for gone in removed)]
        new = self.add_key(purpose, valid_days=valid_days)
        retired = []
        for k in self._keys:
            if (k.info.purpose == purpose and k.info.state == ACTIVE and k.info.key_id != new.key_id
                    and k.info.not_before <= now):
                k.info = replace(k.info, state=RETIRED, retired_at=now)
                retired.append(k.info)
        log.info("keys rotated: purpose=%s new=%s retired=%s", purpose, new.key_id,
                 ",".join(i.key_id for i in retired) or "-")
        return new, retired, [k.info for k in removed]

    # -- use ----------------------------------------------------------------------------------------------------

    def authenticator(self, purpose: str = DEFAULT_PURPOSE, *, at: datetime | None = None,
                      slot_tolerance: int = DEFAULT_SLOT_TOLERANCE) -> Authenticator:
        """The IFF authenticator with the keys of ``purpose`` valid at ``at`` (default now): the newest active
        one signs, every valid one (active or retired) verifies. It shares the store's key buffers: closing
        or zeroizing the store leaves it with no keys (everything ``unknown_key``)."""
        self._check_open()
        at = _now() if at is None else _utc(at)
        usable = [k for k in self._keys if k.info.purpose == purpose and k.info.valid_at(at)]
        active = [k for k in usable if k.info.state == ACTIVE]
        # the newest active key signs (latest start, then latest created, then latest added)
        signer = max(reversed(active), key=lambda k: (k.info.not_before, k.info.created)) if active else None
        return Authenticator(usable, signer=signer, slot_tolerance=slot_tolerance)

    def summary(self) -> dict:
        """What a run may record about its key store: path, key ids, purposes, states, validity, fingerprints."""
        self._check_open()
        return {"path": None if self.path is None else str(self.path),
                "keys": [k.info.as_dict() for k in self._keys]}

    # -- end ----------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Wipe every key and the wrapping key held in memory (as far as Python allows: see the docs)."""
        for k in self._keys:
            k.secret.wipe()
        if self._wrapping is not None:
            self._wrapping.wipe()
        self._closed = True

    def zeroize(self) -> dict:
        """Wipe the keys in memory, then overwrite and remove the file."""
        self.close()
        if self.path is None:
            return {"path": None, "bytes_overwritten": 0, "temporary_files": 0}
        return zeroize(self.path)

    def _check_open(self) -> None:
        if self._closed:
            raise KeyStoreError("the key store was closed or zeroized: its keys are gone",
                                source=None if self.path is None else str(self.path))

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "in memory" if self.path is None else str(self.path)
        state = "closed" if self._closed else f"{len(self._keys)} keys"
        return f"KeyStore({where}, {state})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("key material cannot be pickled")

    def _raw_secrets_for_tests(self) -> dict[str, bytes]:
        """The key bytes, for tests that scan outputs for them. Never call this elsewhere."""
        return {k.info.key_id: bytes(k.secret.view()) for k in self._keys}


def _read_store_file(path: Path) -> bytes:
    where = str(path)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise KeyStoreError("is a folder, not a key store", source=where)
        if st.st_size > MAX_FILE_BYTES:
            raise KeyStoreError(f"too large to be a key store ({st.st_size} bytes)", source=where)
        with open(path, "rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeyStoreError("key store not found (create one with `airpicture keys init`)", source=where) from None
    except OSError as exc:
        raise KeyStoreError(f"cannot read key store: {exc.strerror or type(exc).__name__}", source=where) from None


# ---------------------------------------------------------------------------------------------------------------
# The IFF authenticator


def _mac_input(handle: bytes, platform_id: str, nonce, slot: int) -> bytes:
    """Unambiguous encoding: domain, key handle, slot (signed 64-bit), length-prefixed nonce and platform id."""
    nonce = bytes(nonce)
    pid = str(platform_id).encode("utf-8")
    if len(nonce) > 0xFFFF or len(pid) > 0xFFFF:
        raise ValueError("nonce and platform id must be shorter than 65536 bytes")
    return b"".join((_MAC_DOMAIN, handle, struct.pack(">qH", int(slot), len(nonce)), nonce,
                     struct.pack(">H", len(pid)), pid))


def _mac(secret: _Secret, message: bytes) -> bytes:
    h = hmac.HMAC(secret.view(), hashes.SHA256())
    h.update(message)
    return h.finalize()[:MAC_BYTES]


class Authenticator:
    """Computes (friendly transponders, simulated) and verifies (interrogators) authenticated IFF replies.

    ``tag(platform_id, nonce, slot, key_id=None) -> bytes`` (``TAG_BYTES`` long) and
    ``verify(platform_id, nonce, slot, tag, *, now_slot) -> str``: '' when authenticated, else ``bad_mac``,
    ``stale_slot``, ``replayed_nonce`` or ``unknown_key``. Slots are integers the caller defines (e.g. the scenario
    time divided by the slot length); a reply is fresh when ``|slot - now_slot| <= slot_tolerance``. Stateful:
    it remembers the (platform, nonce) pairs it accepted while their slot is fresh, to refuse replays.
    """

    def __init__(self, keys=(), *, signer: _Key | None = None, slot_tolerance: int = DEFAULT_SLOT_TOLERANCE):
        if int(slot_tolerance) < 0:
            raise ValueError("slot_tolerance must be >= 0")
        self.slot_tolerance = int(slot_tolerance)
        self._by_handle = {_key_handle(k.info.key_id): k for k in keys}
        self._by_id = {k.info.key_id: k for k in keys}
        self._signer = signer
        self._seen: dict[int, set] = {}
        self.counts: Counter = Counter()

    @classmethod
    def without_keys(cls) -> Authenticator:
        """A unit without a key store (the captured export unit): nothing authenticates."""
        return cls(())

    @property
    def key_ids(self) -> list[str]:
        return [i for i, k in self._by_id.items() if k.secret.alive]

    @property
    def can_tag(self) -> bool:
        return self._signer is not None and self._signer.secret.alive

    def tag(self, platform_id: str, nonce: bytes, slot: int, key_id: str | None = None) -> bytes:
        """The authenticated reply of ``platform_id`` to challenge ``nonce`` in time slot ``slot``.

        With no key to sign (no store, no active key valid now, store closed) the reply is a dud that never
        verifies (``unknown_key``), so a simulation runs the same with and without keys. An explicit
        ``key_id`` that this authenticator does not hold is an error."""
        if key_id is not None:
            key = self._by_id.get(key_id)
            if key is None or not key.secret.alive:
                raise KeyStoreError(f"no usable key {key_id!r} for this authenticator", field="key_id")
        else:
            key = self._signer if self.can_tag else None
        if key is None:
            return bytes(KEY_HANDLE_BYTES) + os.urandom(MAC_BYTES)
        handle = _key_handle(key.info.key_id)
        return handle + _mac(key.secret, _mac_input(handle, platform_id, nonce, slot))

    def verify(self, platform_id: str, nonce: bytes, slot: int, tag: bytes, *, now_slot: int) -> str:
        """'' when the reply authenticates, else why not. Checks in order: the key (``unknown_key``), the MAC
        (``bad_mac``), the slot against ``now_slot`` (``stale_slot``), then replay (``replayed_nonce``: this
        platform already answered this nonce with a reply that verified, within the window)."""
        reason = self._verify(platform_id, nonce, slot, tag, int(now_slot))
        self.counts[reason or "authenticated"] += 1
        return reason

    def _verify(self, platform_id, nonce, slot, tag, now_slot) -> str:
        tag = bytes(tag)
        key = self._by_handle.get(tag[:KEY_HANDLE_BYTES])
        if key is None or not key.secret.alive:
            return UNKNOWN_KEY
        if len(tag) != TAG_BYTES:
            return BAD_MAC
        expected = _mac(key.secret, _mac_input(tag[:KEY_HANDLE_BYTES], platform_id, nonce, slot))
        if not _std_hmac.compare_digest(expected, tag[KEY_HANDLE_BYTES:]):
            return BAD_MAC
        slot = int(slot)
        if abs(slot - now_slot) > self.slot_tolerance:
            return STALE_SLOT
        for old in [s for s in self._seen if s < now_slot - self.slot_tolerance]:
            del self._seen[old]
        token = (str(platform_id), bytes(nonce))
        if any(token in seen for seen in self._seen.values()):
            return REPLAYED_NONCE
        self._seen.setdefault(slot, set()).add(token)
        return ""

    def summary(self) -> dict:
        """Key ids and fingerprints it holds and how many replies verified or failed (never key bytes)."""
        return {"keys": [{"id": k.info.key_id, "state": k.info.state, "fingerprint": k.info.fingerprint}
                         for k in self._by_id.values() if k.secret.alive],
                "signing_key": self._signer.info.key_id if self.can_tag else None,
                "slot_tolerance": self.slot_tolerance,
                "counts": {name: int(self.counts.get(name, 0)) for name in ("authenticated",) + FAILURES}}

    def __repr__(self) -> str:
        return (f"Authenticator(keys={self.key_ids}, signing={self._signer.info.key_id if self.can_tag else None}, "
                f"slot_tolerance={self.slot_tolerance})")

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("key material cannot be pickled")


# The authenticator of a unit without a key store (the captured export unit): every reply is `unknown_key`.
# It holds no state, so one shared instance serves every interrogator.
NO_KEYS = Authenticator.without_keys()
