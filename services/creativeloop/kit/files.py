"""Files that readers must never see half-written."""

from __future__ import annotations

import uuid
from pathlib import Path


def write_atomically(target: Path, content: bytes) -> None:
    """Write `content` to `target` via a uniquely named temporary file and an atomic rename.

    Readers see the old file or the new one, never a partial one; concurrent writers (threads or
    processes) of the same target do not trip over each other's temporary file.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(content)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
