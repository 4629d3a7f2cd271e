"""Child processes that never outlive the run that started them."""
from __future__ import annotations

import os
import signal
import sys

__all__ = ["die_with_parent"]


def die_with_parent(parent: int) -> None:
    """Be killed by the kernel when ``parent`` ends (kill -9 included); end now if it already has.

    Linux's parent-death signal; elsewhere only the already-ended check applies.
    """
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
