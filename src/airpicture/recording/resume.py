"""``--resume``: where a simulated run's recording stopped, and whether it can be continued (docs/recording.md).

A simulation is seeded and deterministic, so a run killed mid-way is continued by running it again from the start
with the recorded configuration and appending only the frames after the last one recorded
(``run_scenario(..., resume_after=t)``): the finished recording equals an uninterrupted run's."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def resume_point(path) -> dict:
    """The recorded configuration of the run at ``path``, its last frame time (None: no frame recorded) and frame
    count. ``InputError`` naming the file when there is nothing to resume: missing, not a recording, not a
    simulation, or complete (its summary was written)."""
    from .reader import RecordingReader

    path = Path(path)
    if not path.is_file():
        raise InputError("no recording to resume (--resume continues a run recorded into this folder)",
                         source=str(path))
    with RecordingReader(path) as r:
        context, complete, times = r.context, r.summary is not None, r.times
    if context.mode != "simulation":
        raise InputError(f"--resume continues simulated runs; this is a recording of a {context.mode} run",
                         source=str(path))
    if complete:
        raise InputError("the recorded run is complete already (its summary is recorded): nothing to resume",
                         source=str(path))
    return {"config": dict(context.config), "frames": len(times),
            "last_time": float(times[-1]) if len(times) else None}


def check_resume(path, scenario, *, seed=None, duration=None, keystore: str) -> dict:
    """Check that the recording at ``path`` is of ``scenario`` and give the scenario the recorded seed and
    duration (``--seed`` / ``--duration``, when given, must be the recorded ones). Returns ``resume_point``."""
    point = resume_point(path)
    config = point["config"]

    def refuse(what: str) -> InputError:
        return InputError(f"cannot resume: the recording is of {what}", source=str(path))

    if not _same_source(config.get("source"), scenario.source) or config.get("scenario") != scenario.name:
        raise refuse(f"scenario '{config.get('scenario')}' ({config.get('source')}), not '{scenario.name}' "
                     f"({scenario.source})")
    if seed is not None and seed != config.get("seed"):
        raise refuse(f"seed {config.get('seed')}, not {seed}")
    if duration is not None and float(duration) != float(config.get("duration_s", -1)):
        raise refuse(f"a {config.get('duration_s')} s run, not {float(duration):g} s")
    if config.get("keystore") is not None and config.get("keystore") != keystore:
        raise refuse(f"a run with keystore '{config.get('keystore')}', not '{keystore}'")
    if not isinstance(config.get("seed"), int) or not isinstance(config.get("duration_s"), (int, float)):
        raise InputError("cannot resume: the recording has no seed or duration in its configuration",
                         source=str(path))
    scenario.seed = int(config["seed"])
    scenario.duration_s = float(config["duration_s"])
    return point


def _same_source(recorded, given) -> bool:
    """The same built-in, or the same scenario file (a relative path resolved from here)."""
    if recorded == given:
        return True
    if not isinstance(recorded, str) or not isinstance(given, str) or "builtin:" in (recorded[:8], given[:8]):
        return False
    try:
        return Path(recorded).resolve() == Path(given).resolve()
    except OSError:
        return False
