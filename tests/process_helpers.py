"""Running a command line in a child process and killing it with SIGKILL in the middle of its work."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc; none elsewhere)."""
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nPPid:\t{pid}\n" in status.read_text():
                out.append(int(status.parent.name))
        except OSError:
            continue
    return out


def _alive(pid: int) -> bool:
    """Running or sleeping (a zombie awaiting its reaping runs nothing)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def wait_until_gone(pids: list[int], timeout: float = 10) -> list[int]:
    """The processes of ``pids`` still alive after up to ``timeout`` s."""
    deadline = time.time() + timeout
    while any(map(_alive, pids)) and time.time() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if _alive(pid)]


def kill_when_rows(command: list[str], db: Path, rows: int, timeout: float = 240, env: dict | None = None,
                   children: list[int] | None = None) -> int:
    """Start ``command``, SIGKILL it once the ase.db ``db`` holds ``rows`` rows (or it ends, or
    ``timeout`` s pass), and return how many rows were seen while it ran. ``children``, when given,
    receives the pids of the command's child processes just before the kill."""
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
    if children is not None:
        children += child_pids(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return seen
