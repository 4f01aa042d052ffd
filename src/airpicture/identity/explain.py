"""``airpicture explain TRACK_ID``: why a track has its identity, from what a run wrote.

A run writes ``OUT/identity.json`` (`IdentityEngine.write_json`). This module reads it and prints one track's
identity, the rule and evidence behind it, its class, flags, override and the history of changes. Other stages
add their own section (threat, issue 5) by appending a function to `SECTIONS`: it gets the track id and the
run folder and returns lines (or None when it has nothing to say).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from .engine import FORMAT, IDENTITY_FILE
from .rules import clock

DEFAULT_BASE = Path("airpicture-out")


def latest_run(base: Path = DEFAULT_BASE) -> Path:
    """The most recently written run folder under ``base`` that has an identity.json."""
    candidates = sorted((p for p in base.glob(f"*/{IDENTITY_FILE}") if p.is_file()),
                        key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise InputError(f"no run with {IDENTITY_FILE} under {base}/; give the run folder with --out",
                         field="--out")
    return candidates[-1].parent


def identity_path(out) -> Path:
    """``out`` may be a run folder or the identity.json file itself; None = the latest run."""
    if out is None:
        return latest_run() / IDENTITY_FILE
    out = Path(out)
    if out.is_dir():
        path = out / IDENTITY_FILE
        if not path.is_file():
            raise InputError(f"no {IDENTITY_FILE} in this folder (was the run made with identification?)",
                             source=str(out))
        return path
    if not out.exists():
        raise InputError("no such run folder or file", source=str(out))
    return out


def load_identity(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"not an identity file (bad JSON: {getattr(exc, 'msg', exc)})", source=str(path),
                         line=line) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("tracks"), list):
        raise InputError(f"not an identity file (expected format '{FORMAT}')", source=str(path))
    return doc


def parse_track_id(text) -> int:
    """'17', 'T17' and 't17' all name track 17."""
    s = str(text).strip()
    if s[:1] in ("T", "t"):
        s = s[1:]
    try:
        return int(s)
    except ValueError:
        raise InputError(f"'{text}' is not a track number", field="TRACK_ID") from None


def find_track(doc: dict, track_id: int, path: Path) -> dict:
    for rec in doc["tracks"]:
        if rec.get("track_id") == track_id:
            return rec
    ids = sorted(r.get("track_id") for r in doc["tracks"] if isinstance(r.get("track_id"), int))
    near = sorted(ids, key=lambda i: abs(i - track_id))[:5]
    known = f"; {len(ids)} tracks, nearest: {', '.join(map(str, sorted(near)))}" if ids else "; no tracks"
    raise InputError(f"no track {track_id} in this run{known}", source=str(path))


def _t(x) -> str:
    return "?" if x is None else f"{clock(x)} (t={x:.1f} s)"


def _name(identity: str) -> str:
    return identity.replace("_", " ").upper()


def identity_lines(rec: dict) -> list[str]:
    tentative = "" if rec.get("confirmed", True) else " (tentative)"
    lines = [f"track {rec['track_id']}: {_name(rec['identity'])}, {rec['class'].replace('_', ' ')}{tentative}"]
    lines.append(f"  identity  {rec['identity'].replace('_', ' ')} since {_t(rec.get('identity_since'))}")
    lines.append(f"  rule      {rec['identity_rule'] or '(none)'}")
    lines.append(f"  reason    {rec['identity_reason']}")
    ov = rec.get("override")
    if ov:
        lines.append(f"  override  {ov['identity'].replace('_', ' ')} by {ov['who']} at {_t(ov['time'])}: {ov['why']}"
                     f"  (automatic: {rec['automatic_identity'].replace('_', ' ')}, rule "
                     f"'{rec['automatic_rule']}': {rec['automatic_reason']})")
    prop = rec.get("proposed")
    if prop:
        lines.append(f"  proposed  {prop['identity'].replace('_', ' ')} on {prop['updates']} update(s) since "
                     f"{_t(prop['since'])}, not yet taken (hysteresis)")
    lines.append(f"  class     {rec['class'].replace('_', ' ')}"
                 + (f" ({rec['class_rule']}: {rec['class_reason']})" if rec.get("class_rule") else ""))
    flags = {k: v for k, v in (rec.get("flags") or {}).items() if v}
    lines.append("  flags     " + ("; ".join(f"{k}: {v}" for k, v in flags.items()) if flags else "none"))
    if rec.get("from_hostile_area"):
        lines.append("  origin    has been inside the declared hostile area")
    lines.append(f"  seen      {_t(rec.get('first_time'))} to {_t(rec.get('last_time'))}")
    history = rec.get("history") or []
    lines.append(f"history ({len(history)} change{'s' if len(history) != 1 else ''})")
    for e in history:
        kind = e.get("kind", "identity")
        if kind == "flag":
            change = f"{e.get('flag', 'flag')} {'raised' if e.get('new') else 'cleared'}"
        else:
            change = f"{kind.replace('_', ' ')}: {str(e.get('old')).replace('_', ' ')} -> " \
                     f"{str(e.get('new')).replace('_', ' ')}"
        note = " (under override)" if e.get("under_override") else ""
        rule = f"[{e['rule']}] " if e.get("rule") else ""
        lines.append(f"  {clock(e['time']) if e.get('time') is not None else '?':>8}  {change}{note}  {rule}"
                     f"{e.get('reason', '')}")
    overrides = rec.get("overrides") or []
    if overrides:
        lines.append("overrides")
        for o in overrides:
            end = o.get("cleared")
            if end:
                until = f"; cleared at {clock(end['time'])} by {end['who']}" + (f": {end['why']}" if end.get("why")
                                                                              else "")
            else:
                until = "; active"
            lines.append(f"  {clock(o['time'])}  {o['identity'].replace('_', ' ')} by {o['who']}: {o['why']}{until}")
    return lines


# Further sections: f(track_id, run_folder) -> list of lines or None. Issue 5 appends the threat reasoning.
SECTIONS: list = []


def explain(track_id, out=None, *, as_json: bool = False) -> str:
    """The text ``airpicture explain`` prints (or the track's record as JSON)."""
    tid = parse_track_id(track_id)
    path = identity_path(out)
    doc = load_identity(path)
    rec = find_track(doc, tid, path)
    if as_json:
        return json.dumps(rec, indent=1)
    lines = identity_lines(rec)
    if not SECTIONS:
        from ..threat.explain import threat_lines  # issue 5: the threat reasoning and the track's alerts

        SECTIONS.append(threat_lines)
    for section in SECTIONS:
        more = section(tid, path.parent)
        if more:
            lines.extend(more)
    lines.append(f"(from {path}, identity as of {_t(doc.get('time'))})")
    return "\n".join(lines)
