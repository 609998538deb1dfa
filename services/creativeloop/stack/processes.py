"""Child processes: stop them the way Kubernetes does, SIGTERM first, SIGKILL after a grace."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def terminate(process: subprocess.Popen[Any], grace_s: float = 15.0) -> bool:
    """Stop `process` and reap it; True if it exited within `grace_s` of SIGTERM (no SIGKILL)."""
    if process.poll() is not None:
        return True
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False
