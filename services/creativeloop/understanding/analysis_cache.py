"""Per-image analyses kept by content hash, so an unchanged image is never analysed twice.

Keyed by (pipeline version, sha256 of the encoded bytes): a new model or code version misses the
cache by construction. On disk under the asset directory (shared by replicas on a shared volume),
with a small in-process layer in front.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from creativeloop.kit.files import write_atomically
from creativeloop.v1 import common_pb2


class AnalysisCache:
    def __init__(self, root: Path, version: str, memory_items: int = 1024) -> None:
        self._dir = root / version
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._limit = memory_items
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _path(self, sha256: str) -> Path:
        return self._dir / sha256[:2] / f"{sha256}.pb"

    def get(self, sha256: str) -> common_pb2.ImageAnalysis | None:
        with self._lock:
            blob = self._memory.get(sha256)
            if blob is not None:
                self._memory.move_to_end(sha256)
        if blob is None:
            try:
                blob = self._path(sha256).read_bytes()
            except OSError:
                self.misses += 1
                return None
            self._remember(sha256, blob)
        self.hits += 1
        return common_pb2.ImageAnalysis.FromString(blob)

    def put(self, sha256: str, analysis: common_pb2.ImageAnalysis) -> None:
        blob = analysis.SerializeToString(deterministic=True)
        write_atomically(self._path(sha256), blob)
        self._remember(sha256, blob)

    def _remember(self, sha256: str, blob: bytes) -> None:
        with self._lock:
            self._memory[sha256] = blob
            self._memory.move_to_end(sha256)
            while len(self._memory) > self._limit:
                self._memory.popitem(last=False)
