"""`python -m airpicture ARGS` in a fresh process, as a user runs it: one helper for every test file."""

import os
import subprocess
import sys


def run_cli(*args, columns: int = 200, cwd=None, env=None, timeout: float = 600, **kwargs):
    """Run the CLI; AIRPICTURE_DEBUG unset (errors as a user sees them, no traceback), a fixed terminal width
    (``COLUMNS``: wide enough, or narrow on purpose, for the lines a test reads), ``env`` added on top."""
    full = dict(os.environ)
    full.pop("AIRPICTURE_DEBUG", None)
    full["COLUMNS"] = str(columns)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "airpicture", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=full, timeout=timeout, **kwargs)
