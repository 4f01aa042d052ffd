"""The threat section of ``airpicture explain``: read ``threat.json`` and ``alerts.json`` of a run."""

from __future__ import annotations

import json
from pathlib import Path


def _clock(t) -> str:
    if t is None:
        return "-"
    t = float(t)
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{int(t % 60):02d} (t={t:.1f} s)"


def threat_lines(track_id: int, run_folder: Path) -> list[str] | None:
    """The track's latest and peak threat with their reasons, and its alerts with their timelines."""
    lines = []
    threat_file = Path(run_folder) / "threat.json"
    if threat_file.is_file():
        rec = json.loads(threat_file.read_text(encoding="utf-8")).get("tracks", {}).get(str(track_id))
        if rec:
            lines.append(f"threat    {str(rec['level']).upper()} (score {rec['score']}) at {_clock(rec['time'])}")
            lines.append(f"  reason  {rec['reason']}")
            if rec.get("peak_level") and rec.get("peak_time") is not None:
                lines.append(f"  peak    {str(rec['peak_level']).upper()} at {_clock(rec['peak_time'])}: "
                             f"{rec.get('peak_reason', '')}")
    alerts_file = Path(run_folder) / "alerts.json"
    if alerts_file.is_file():
        alerts = [a for a in json.loads(alerts_file.read_text(encoding="utf-8")).get("alerts", [])
                  if a.get("track_id") == track_id]
        if alerts:
            lines.append(f"alerts ({len(alerts)})")
            for a in alerts:
                state = "active" if a.get("active") else f"cleared {_clock(a.get('cleared'))}"
                ack = f", acknowledged by {a['acknowledged_by']}" if a.get("acknowledged") else ""
                lines.append(f"  {a['id']}: raised {_clock(a.get('raised'))}, {state}{ack}")
                lines.append(f"    {a.get('reason', '')}")
    return lines or None
