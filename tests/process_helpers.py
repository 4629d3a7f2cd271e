"""Running a command line in a child process and killing it with SIGKILL in the middle of its work."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def kill_when_rows(command: list[str], db: Path, rows: int, timeout: float = 240, env: dict | None = None) -> int:
    """Start ``command``, SIGKILL it once the ase.db ``db`` holds ``rows`` rows (or it ends, or
    ``timeout`` s pass), and return how many rows were seen while it ran."""
    from ase.db import connect

    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    deadline = time.time() + timeout
    seen = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            seen = connect(db, use_lock_file=False).count()
            if seen >= rows:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return seen
