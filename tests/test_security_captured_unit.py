"""Security audit, the captured unit (issue 9): a demo run with a real key store, then everything an adversary who
takes the hardware holds - the installed package, the configuration, the run's outputs and logs, the key store
file - without the passphrase. No key byte is in any of it (raw, hex, base64), the store does not open without
the passphrase, and after ``keys zeroize`` nothing opens even with it.

Real subprocesses of the installed command, a real store (scrypt), no mocks.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import airpicture
from airpicture.identity.keystore import KeyStore, KeyStoreError, WrapSource

PASSPHRASE = "correct horse battery staple 9"


def airpicture_cli(*args, env=None, cwd=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRPICTURE_")}
    base["COLUMNS"] = "120"
    return subprocess.run([sys.executable, "-m", "airpicture", *map(str, args)], capture_output=True, text=True,
                          env={**base, **(env or {})}, cwd=cwd, timeout=600, stdin=subprocess.DEVNULL)


def encodings(key: bytes) -> list[bytes]:
    """Every form a key could leak in: raw, hex (both cases), base64 and urlsafe base64 - alone and as it would
    sit inside a longer base64 text at each of the 3 alignments (the 40 characters that do not depend on the
    neighbouring bytes)."""
    forms = [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key).rstrip(b"="),
             base64.urlsafe_b64encode(key).rstrip(b"=")]
    for shift in (1, 2):
        inner = base64.b64encode(b"\0" * shift + key)[4:44]
        forms += [inner, inner.replace(b"+", b"-").replace(b"/", b"_")]
    forms += [f.decode("latin-1").encode("utf-16-le") for f in forms[1:3]]   # hex as UTF-16 text
    return forms


def texts_of(path: Path) -> list[bytes]:
    """The bytes of a file, plus the values of a Parquet file decoded (columns may be compressed on disk)."""
    out = [path.read_bytes()]
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        out.append(json.dumps(pq.read_table(path).to_pylist(), default=str).encode())
    return out


def leaks(files: list[Path], keys: dict[str, bytes]) -> list[str]:
    found = []
    for path in files:
        for blob in texts_of(path):
            for key_id, key in keys.items():
                for form in encodings(key):
                    if form in blob:
                        found.append(f"{path}: key {key_id} as {form[:12]!r}...")
    return found


@pytest.fixture(scope="module")
def unit(tmp_path_factory):
    """The unit after a run: the store (two keys, passphrase-wrapped), the demo's outputs and its logs."""
    root = tmp_path_factory.mktemp("unit")
    store = root / "keys.apks"
    env = {"APKS_PASS": PASSPHRASE}
    logs = root / "logs"
    logs.mkdir()

    def logged(name, result):
        (logs / f"{name}.stdout").write_text(result.stdout)
        (logs / f"{name}.stderr").write_text(result.stderr)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    logged("init", airpicture_cli("keys", "init", "--store", store, "--passphrase-env", "APKS_PASS",
                                  "--scrypt-log2n", "14", env=env))
    logged("add", airpicture_cli("keys", "add", "--store", store, "--passphrase-env", "APKS_PASS", env=env))
    logged("list", airpicture_cli("keys", "list", "--store", store, "--passphrase-env", "APKS_PASS", "--json",
                                  env=env))
    out = root / "out"
    run = logged("demo", airpicture_cli("run", "demo", "--duration", "30", "--keystore", store, "-o", out,
                                        "--no-serve", env={"AIRPICTURE_KEYSTORE_PASSPHRASE": PASSPHRASE}))
    with KeyStore.open(store, WrapSource.passphrase(PASSPHRASE)) as ks:   # the test's own knowledge
        keys = ks._raw_secrets_for_tests()
    return {"root": root, "store": store, "out": out, "logs": logs, "keys": keys, "run": run}


def captured_files(unit) -> list[Path]:
    package = Path(airpicture.__file__).resolve().parent
    repo = package.parents[1]
    files = [unit["store"]]
    files += [p for p in unit["out"].rglob("*") if p.is_file()]
    files += [p for p in unit["logs"].rglob("*") if p.is_file()]
    files += [p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    files += [p for p in (repo / "pyproject.toml",) if p.exists()]
    config = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "airpicture"
    files += [p for p in config.rglob("*") if p.is_file()] if config.exists() else []
    return files


def test_the_run_used_the_store(unit):
    iff = json.loads((unit["out"] / "summary.json").read_text())["identity"]["iff"]
    assert iff["unit_keys"]["keys"] == 2 and iff["authenticated"] > 0   # replies authenticated with its keys
    assert len(unit["keys"]) == 2 and all(len(k) == 32 for k in unit["keys"].values())


def test_no_key_bytes_in_anything_the_unit_holds(unit):
    files = captured_files(unit)
    assert len(files) > 20 and any(p.suffix == ".parquet" for p in files)
    assert leaks(files, unit["keys"]) == []
    # the search does find a key where one is (the method is not blind)
    probe = unit["root"] / "probe.bin"
    key = next(iter(unit["keys"].values()))
    probe.write_bytes(b"x" * 7 + base64.b64encode(b"ab" + key) + b"y")
    assert leaks([probe], unit["keys"])
    probe.unlink()


def test_a_fresh_process_without_the_passphrase_opens_nothing(unit):
    store = unit["store"]
    result = airpicture_cli("keys", "list", "--store", store)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "passphrase" in (result.stdout + result.stderr)
    result = airpicture_cli("run", "demo", "--duration", "10", "--keystore", store, "-o", unit["root"] / "x",
                            "--no-serve")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    guesses = ["", "password", PASSPHRASE[:-1], PASSPHRASE.upper(), "correct horse battery staple"]
    code = ("import sys\nfrom airpicture.identity.keystore import KeyStore, KeyStoreError, WrapSource\n"
            "n = 0\n"
            "for guess in sys.argv[2:]:\n"
            "    try:\n"
            "        KeyStore.open(sys.argv[1], WrapSource.passphrase(guess or 'x'))\n"
            "    except KeyStoreError:\n"
            "        n += 1\n"
            "print(n)\n")
    probe = subprocess.run([sys.executable, "-c", code, str(store), *guesses], capture_output=True, text=True,
                           timeout=300, env={k: v for k, v in os.environ.items() if not k.startswith("AIRPICTURE_")})
    assert probe.stdout.strip() == str(len(guesses)), probe.stderr


def test_after_zeroize_nothing_recovers_the_keys_even_with_the_passphrase(unit):
    store = unit["store"]
    before = store.read_bytes()
    result = airpicture_cli("keys", "zeroize", "--store", store, "--yes")
    assert result.returncode == 0, result.stderr
    assert not store.exists() and not list(store.parent.glob(store.name + "*"))
    result = airpicture_cli("keys", "list", "--store", store, "--passphrase-env", "APKS_PASS",
                            env={"APKS_PASS": PASSPHRASE})
    assert result.returncode == 2 and "not found" in result.stdout + result.stderr
    with pytest.raises(KeyStoreError):
        KeyStore.open(store, WrapSource.passphrase(PASSPHRASE))
    # nothing left under the unit's folder holds the keys or the store's ciphertext
    files = [p for p in unit["root"].rglob("*") if p.is_file()]
    assert leaks(files, unit["keys"]) == []
    body = before[46:]   # the encrypted keys (after the 46-byte header)
    assert not any(body[:64] in p.read_bytes() for p in files)
