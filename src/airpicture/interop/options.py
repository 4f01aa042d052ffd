"""Output sinks from the command line (``--cot URL``, ``--asterix URL``) and from a scenario's ``[outputs]``
table, validated with errors that name the file, line and field::

    [outputs]
    cot = ["udp://127.0.0.1:6969", "tcp://takserver:8087"]   # a string or a list
    cot_stale_s = 30                                           # optional
    asterix_cat062 = ["udp://239.1.2.3:8600"]
    asterix_sac = 25                                           # I062/010 (default 0 / 1)
    asterix_sic = 99
    asterix_service_id = 1                                     # I062/015

On the command line a CAT062 destination may carry its own identifiers: ``udp://HOST:PORT?sac=25&sic=99&sid=1``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from ..errors import InputError

OUTPUT_KEYS = ("cot", "cot_stale_s", "asterix_cat062", "asterix_sac", "asterix_sic", "asterix_service_id")
ASTERIX_QUERY = {"sac": "sac", "sic": "sic", "sid": "service_id", "service_id": "service_id"}


def _asterix_sink(url: str, defaults: dict, *, field: str, source=None, line=None):
    from .asterix062 import Cat062Sink
    from .net import parse_destination

    parts = urlsplit(str(url).strip())
    ids = dict(defaults)
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        if key not in ASTERIX_QUERY:
            raise InputError(f"unknown option '{key}' in {url!r} (known: sac, sic, sid)", source=source, line=line,
                             field=field)
        try:
            ids[ASTERIX_QUERY[key]] = int(values[-1])
        except ValueError:
            raise InputError(f"'{key}' must be an integer in {url!r}", source=source, line=line,
                             field=field) from None
    dest = parse_destination(parts._replace(query="").geturl(), schemes=("udp",), field=field, source=source,
                             line=line)
    try:
        return Cat062Sink(dest, **ids)
    except InputError as exc:
        raise InputError(exc.message, source=source, line=line, field=f"{field} ({exc.field})") from None


def _scenario_text(scenario) -> tuple[str | None, str | None]:
    """(source name, text) of a scenario, for line numbers; (None, None) when it cannot be read back."""
    src = getattr(scenario, "source", "") or ""
    try:
        if src.startswith("builtin:"):
            from ..scenario.builtin import builtin_path

            path = builtin_path(src.split(":", 1)[1])
            return src, path.read_text(encoding="utf-8") if path else None
        if src:
            from pathlib import Path

            return src, Path(src).read_text(encoding="utf-8")
    except OSError:
        pass
    return (src or None), None


def outputs_from_scenario(scenario) -> dict:
    """The validated ``[outputs]`` table of a scenario: ``{"cot": [...], "cot_stale_s": .., "asterix_cat062":
    [...], "asterix": {sac, sic, service_id}}`` (empty lists when absent)."""
    raw = getattr(scenario, "raw", None) or {}
    out = {"cot": [], "cot_stale_s": None, "asterix_cat062": [], "asterix": {}, "_where": {"cot": [], "asterix_cat062": []}}
    if "outputs" not in raw:
        return out
    source, text = _scenario_text(scenario)
    lines = {}
    if text is not None:
        from ..scenario.toml_lines import key_lines

        try:
            lines = key_lines(text)
        except Exception:  # positions are a help for the message, never a reason to fail
            lines = {}

    def where(*path):
        from ..scenario.toml_lines import format_path, line_of

        return {"source": source, "line": line_of(lines, ("outputs",) + path),
                "field": format_path(("outputs",) + path)}

    table = raw["outputs"]
    if not isinstance(table, dict):
        raise InputError("expected a table [outputs]", **where())
    for key in table:
        if key not in OUTPUT_KEYS:
            raise InputError(f"unknown output '{key}'; allowed: {', '.join(OUTPUT_KEYS)}", **where(key))
    for key in ("cot", "asterix_cat062"):
        value = table.get(key, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError("expected a URL or a list of URLs", **where(key))
        out[key] = value
        out["_where"][key] = [where(key, i) if isinstance(table.get(key), list) else where(key)
                              for i in range(len(value))]
    if "cot_stale_s" in table:
        v = table["cot_stale_s"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 86400:
            raise InputError("expected seconds in (0, 86400]", **where("cot_stale_s"))
        out["cot_stale_s"] = float(v)
    for key, name in (("asterix_sac", "sac"), ("asterix_sic", "sic"), ("asterix_service_id", "service_id")):
        if key in table:
            v = table[key]
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 255:
                raise InputError("expected an integer 0-255", **where(key))
            out["asterix"][name] = v
    return out


def sinks_from_options(cot=None, asterix=None, scenario=None) -> list:
    """Sinks for ``--cot`` / ``--asterix`` URLs and the scenario's ``[outputs]``; an InputError names the bad one.

    Nothing opens a socket here: each sink connects from its own thread once the run opens it."""
    from .cot import CotSink
    from .net import parse_destination

    sinks = []
    conf = outputs_from_scenario(scenario) if scenario is not None else None
    for url in cot or ():
        sinks.append(CotSink(parse_destination(url, field="--cot"),
                             stale_s=conf["cot_stale_s"] if conf else None))
    for url in asterix or ():
        sinks.append(_asterix_sink(url, conf["asterix"] if conf else {}, field="--asterix"))
    if conf:
        for url, w in zip(conf["cot"], conf["_where"]["cot"]):
            sinks.append(CotSink(parse_destination(url, **w), stale_s=conf["cot_stale_s"]))
        for url, w in zip(conf["asterix_cat062"], conf["_where"]["asterix_cat062"]):
            sinks.append(_asterix_sink(url, conf["asterix"], **w))
    names = set()
    for s in sinks:  # the same destination twice: keep the sink names (summary keys) distinct
        base, k = s.name, 2
        while s.name in names:
            s.name = f"{base} #{k}"
            k += 1
        names.add(s.name)
    return sinks
