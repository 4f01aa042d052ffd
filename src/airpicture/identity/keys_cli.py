"""`airpicture keys init|add|list|rotate|zeroize`: the confidential key store from the command line.

The wrapping key comes from, in this order: ``--key-file PATH``; ``--passphrase-env VAR``; the environment
variable ``AIRPICTURE_KEYSTORE_PASSPHRASE``; else a hidden prompt. The store is ``--store PATH``, else
``$AIRPICTURE_KEYSTORE``, else ``~/.config/airpicture/keystore.apks``. Nothing here prints key material: `list`
shows ids, purposes, validity, states and a fingerprint. See docs/identity.md, "Key store".
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import typer

keys_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                       help="The confidential key store (IFF keys): init, add, list, rotate, zeroize.")


def _reports(func):
    """cli._reports_errors, looked up when the command runs (cli.py imports this module)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..cli import _reports_errors

        return _reports_errors(func)(*args, **kwargs)

    return wrapper


def _out():
    from ..cli import out

    return out


def _err():
    from ..cli import console

    return console


STORE_OPT = typer.Option(None, "--store", help="Key store file (default $AIRPICTURE_KEYSTORE, else "
                                               "~/.config/airpicture/keystore.apks).")
PASS_ENV_OPT = typer.Option(None, "--passphrase-env", metavar="VAR",
                            help="Read the passphrase from environment variable VAR.")
KEY_FILE_OPT = typer.Option(None, "--key-file", help="Wrap with a 256-bit key file (32 bytes, 64 hex digits or "
                                                     "base64) instead of a passphrase.")
PURPOSE_OPT = typer.Option("iff-mode5", "--purpose", help="What the key is for.")
VALID_DAYS_OPT = typer.Option(30.0, "--valid-days", help="Validity of the new key, days (0: no end).")


def _store_path(store: Path | None) -> Path:
    from .keystore import default_store_path

    return store if store is not None else default_store_path()


def _source(path: Path, passphrase_env: str | None, key_file: Path | None, *, new: bool):
    """The wrapping source from the options, the environment, or a hidden prompt."""
    import os

    from .keystore import ENV_PASSPHRASE, KeyStoreError, WrapSource

    if key_file is not None and passphrase_env is not None:
        raise KeyStoreError("give either --key-file or --passphrase-env, not both", field="--key-file")
    if key_file is not None:
        return WrapSource.key_file(key_file)
    if passphrase_env is not None:
        return WrapSource.from_env(passphrase_env)
    if os.environ.get(ENV_PASSPHRASE):
        return WrapSource.from_env(ENV_PASSPHRASE)
    try:
        text = typer.prompt("New key store passphrase" if new else "Key store passphrase", hide_input=True,
                            confirmation_prompt=new)
    except typer.Abort:
        raise KeyStoreError(f"no passphrase given (use --passphrase-env VAR, --key-file PATH or set "
                            f"{ENV_PASSPHRASE})", source=str(path)) from None
    return WrapSource.passphrase(text)


def _existing(store: Path | None) -> Path:
    """The store path, checked before asking for a passphrase."""
    from .keystore import KeyStoreError

    path = _store_path(store)
    if not path.exists():
        raise KeyStoreError("key store not found (create one with `airpicture keys init`)", source=str(path))
    return path


def _valid_days(days: float) -> float | None:
    from .keystore import KeyStoreError

    if days < 0:
        raise KeyStoreError("must be >= 0 (0: no end)", field="--valid-days")
    return None if days == 0 else days


def _describe(info) -> str:
    end = f"until {info.not_after:%Y-%m-%d %H:%M} UTC" if info.not_after else "no end of validity"
    return f"{info.key_id} ({info.purpose}, {info.state}, {end}, fingerprint {info.fingerprint})"


@keys_app.command("init")
@_reports
def init_command(
    store: Path | None = STORE_OPT,
    passphrase_env: str | None = PASS_ENV_OPT,
    key_file: Path | None = KEY_FILE_OPT,
    create_key_file: bool = typer.Option(False, "--create-key-file",
                                         help="Write a new random key file at --key-file first (mode 0600)."),
    purpose: str = PURPOSE_OPT,
    valid_days: float = VALID_DAYS_OPT,
    empty: bool = typer.Option(False, "--empty", help="Create the store without a first key."),
    scrypt_log2n: int = typer.Option(17, "--scrypt-log2n", min=14, max=20,
                                     help="scrypt cost: N = 2**this (memory 128 * 8 * N bytes)."),
) -> None:
    """Create a key store (with one active key unless --empty). Refuses to overwrite an existing store."""
    import os

    from .keystore import KeyStore, KeyStoreError, WrapSource

    path = _store_path(store)
    if os.path.lexists(path):  # before asking for a passphrase or making a key file that would lock nothing
        raise KeyStoreError("a key store already exists here: not overwritten (zeroize it first, or choose "
                            "another --store)", source=str(path))
    if create_key_file:
        if key_file is None:
            raise KeyStoreError("--create-key-file needs --key-file PATH", field="--create-key-file")
        WrapSource.create_key_file(key_file)
        _err().print(f"key file written: {key_file} (keep it apart from the store)", highlight=False, soft_wrap=True, markup=False)
    source = _source(path, passphrase_env, key_file, new=True)
    with KeyStore.create(path, source, scrypt_log2_n=scrypt_log2n, first_key=not empty, purpose=purpose,
                         valid_days=_valid_days(valid_days)) as ks:
        _out().print(f"key store created: {path}", highlight=False, soft_wrap=True, markup=False)
        for info in ks.keys():
            _out().print(f"  key {_describe(info)}", highlight=False, soft_wrap=True, markup=False)


@keys_app.command("add")
@_reports
def add_command(
    store: Path | None = STORE_OPT,
    passphrase_env: str | None = PASS_ENV_OPT,
    key_file: Path | None = KEY_FILE_OPT,
    purpose: str = PURPOSE_OPT,
    key_id: str | None = typer.Option(None, "--id", help="Key id (default: 8 random hex digits)."),
    valid_from: str | None = typer.Option(None, "--valid-from", help="Start of validity, ISO 8601 (default now)."),
    valid_days: float = VALID_DAYS_OPT,
) -> None:
    """Add a new random active key."""
    from .keystore import KeyStore, parse_time

    path = _existing(store)
    start = parse_time(valid_from, field="--valid-from") if valid_from else None
    with KeyStore.open(path, _source(path, passphrase_env, key_file, new=False)) as ks:
        info = ks.add_key(purpose, key_id=key_id, not_before=start, valid_days=_valid_days(valid_days))
        ks.save()
        _out().print(f"key added: {_describe(info)}", highlight=False, soft_wrap=True, markup=False)


@keys_app.command("list")
@_reports
def list_command(
    store: Path | None = STORE_OPT,
    passphrase_env: str | None = PASS_ENV_OPT,
    key_file: Path | None = KEY_FILE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print the keys' metadata as JSON."),
) -> None:
    """List the keys: id, purpose, state, validity and fingerprint (never the key)."""
    from .keystore import KeyStore

    path = _existing(store)
    with KeyStore.open(path, _source(path, passphrase_env, key_file, new=False)) as ks:
        infos = ks.keys()
    if as_json:
        print(json.dumps({"store": str(path), "keys": [i.as_dict() for i in infos]}, indent=2))
        return
    if not infos:
        _out().print(f"no keys in {path}", highlight=False, soft_wrap=True, markup=False)
        return
    # plain aligned columns (a rich table would cut ids and fingerprints on a narrow terminal)
    rows = [("id", "purpose", "state", "valid from (UTC)", "until (UTC)", "fingerprint")]
    for i in infos:
        rows.append((i.key_id, i.purpose, i.status(), i.not_before.strftime("%Y-%m-%d %H:%M"),
                     i.not_after.strftime("%Y-%m-%d %H:%M") if i.not_after else "no end", i.fingerprint))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    _out().print(f"keys in {path}", highlight=False, soft_wrap=True, markup=False)
    for n, r in enumerate(rows):
        line = "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
        _out().print(f"[bold]{line}[/]" if n == 0 else line, highlight=False, soft_wrap=True,
                     markup=n == 0)


@keys_app.command("rotate")
@_reports
def rotate_command(
    store: Path | None = STORE_OPT,
    passphrase_env: str | None = PASS_ENV_OPT,
    key_file: Path | None = KEY_FILE_OPT,
    purpose: str = PURPOSE_OPT,
    valid_days: float = VALID_DAYS_OPT,
) -> None:
    """Add a new active key; retire the keys in use (they still verify until their validity ends).

    Keys loaded ahead (not yet valid) stay active; keys whose validity has ended are removed.
    """
    from .keystore import KeyStore

    path = _existing(store)
    with KeyStore.open(path, _source(path, passphrase_env, key_file, new=False)) as ks:
        new, retired, removed = ks.rotate(purpose, valid_days=_valid_days(valid_days))
        ks.save()
    _out().print(f"new active key: {_describe(new)}", highlight=False, soft_wrap=True, markup=False)
    for info in retired:
        _out().print(f"retired: {_describe(info)}", highlight=False, soft_wrap=True, markup=False)
    for info in removed:
        _out().print(f"removed (validity ended): {info.key_id} ({info.purpose})", highlight=False, soft_wrap=True, markup=False)


@keys_app.command("zeroize")
@_reports
def zeroize_command(
    store: Path | None = STORE_OPT,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    force: bool = typer.Option(False, "--force", help="Overwrite even a file that does not look like a key store."),
    key_file: Path | None = typer.Option(None, "--key-file", help="Also overwrite and remove this key file."),
) -> None:
    """Overwrite the store (and --key-file) with random bytes, then remove it. Cannot be undone.

    Needs no passphrase. Refuses a file that does not look like a key store unless --force.
    """
    from .keystore import KeyStoreError, zeroize

    path = _store_path(store)
    if not path.exists() and not path.is_symlink():
        raise KeyStoreError("no key store here: nothing to zeroize", source=str(path))
    if not yes:
        try:
            also = f" and the key file {key_file}" if key_file is not None else ""
            ok = typer.confirm(f"Destroy the key store {path}{also}? This cannot be undone", default=False)
        except typer.Abort:
            ok = False
        if not ok:
            _err().print("not zeroized", highlight=False, soft_wrap=True, markup=False)
            raise typer.Exit(1)
    if key_file is not None and not key_file.is_file():
        raise KeyStoreError("key file not found: nothing zeroized", source=str(key_file))
    report = zeroize(path, force=force)
    extra = f", and {report['temporary_files']} leftover temporary file(s)" if report["temporary_files"] else ""
    _out().print(f"key store zeroized: {path} ({report['bytes_overwritten']} bytes overwritten, then removed{extra})",
                 highlight=False, soft_wrap=True, markup=False)
    if key_file is not None:
        kreport = zeroize(key_file, force=True)
        _out().print(f"key file zeroized: {key_file} ({kreport['bytes_overwritten']} bytes overwritten, then "
                     "removed)", highlight=False, soft_wrap=True, markup=False)
