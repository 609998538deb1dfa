"""The CTR model repository: versioned LightGBM models, loaded at start and swapped live.

Layout (one folder per version, like a Triton model repository)::

    <model_dir>/<version>/model.txt       LightGBM text model
    <model_dir>/<version>/metadata.json   feature version and names, metrics, data counts, seed

The newest version is the greatest folder name (training names them by UTC time, so names sort
in time order). A version is written into a hidden temporary folder and renamed into place, so a
reader never sees half of one. `ModelHolder.poll` loads a newer version in a worker thread and
then swaps one reference: requests in flight finish with the model they started with, and no
request ever waits for a load.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from creativeloop.kit.logs import get_logger
from creativeloop.ranking.features import FEATURE_NAMES, FEATURE_VERSION

log = get_logger(__name__)

MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"


class ModelError(RuntimeError):
    """A model version that cannot be served (missing files, other feature version...)."""


@dataclass(frozen=True)
class CtrModel:
    """One loaded model version."""

    version: str
    booster: lgb.Booster
    metadata: dict[str, Any]

    def predict(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Click probability of each feature row."""
        return np.asarray(self.booster.predict(rows, num_threads=1), dtype=np.float64)


def list_versions(model_dir: Path) -> list[str]:
    """Complete versions in `model_dir`, oldest first (hidden temporary folders are skipped)."""
    if not model_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in model_dir.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and (p / MODEL_FILE).is_file()
        and (p / METADATA_FILE).is_file()
    )


def newest_version(model_dir: Path) -> str | None:
    versions = list_versions(model_dir)
    return versions[-1] if versions else None


def load_model(model_dir: Path, version: str) -> CtrModel:
    folder = model_dir / version
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: unreadable {METADATA_FILE}: {exc}") from exc
    if metadata.get("feature_version") != FEATURE_VERSION:
        raise ModelError(
            f"{folder}: features {metadata.get('feature_version')!r}, "
            f"this service computes {FEATURE_VERSION!r}"
        )
    if tuple(metadata.get("feature_names", ())) != FEATURE_NAMES:
        raise ModelError(f"{folder}: feature names differ from this service's")
    try:
        booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
    except lgb.basic.LightGBMError as exc:
        raise ModelError(f"{folder}: {exc}") from exc
    if booster.num_feature() != len(FEATURE_NAMES):
        raise ModelError(
            f"{folder}: model has {booster.num_feature()} features, expected {len(FEATURE_NAMES)}"
        )
    return CtrModel(version, booster, metadata)


def write_version(model_dir: Path, version: str, model_text: str, metadata: dict[str, Any]) -> Path:
    """Publish a version atomically (temporary folder, then rename); refuses to overwrite one."""
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / version
    if target.exists():
        raise ModelError(f"{target} exists: versions are immutable")
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=model_dir))
    try:
        (staging / MODEL_FILE).write_text(model_text)
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        staging.chmod(0o755)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


class ModelHolder:
    """The model ranking serves with now, and the loop that swaps in newer versions."""

    def __init__(self, model_dir: Path, poll_s: float = 10.0) -> None:
        self.model_dir = model_dir
        self.poll_s = poll_s
        self.current: CtrModel | None = None
        self._rejected: set[str] = set()

    def refresh(self) -> bool:
        """Load the newest version if it is newer than the current one; True if it swapped."""
        version = newest_version(self.model_dir)
        current = self.current
        if version is None or version in self._rejected:
            return False
        if current is not None and version <= current.version:
            return False
        try:
            model = load_model(self.model_dir, version)
        except ModelError as exc:
            self._rejected.add(version)
            log.error("model version rejected", version=version, reason=str(exc))
            return False
        self.current = model  # one reference swap: atomic for readers
        log.info(
            "model loaded",
            version=version,
            previous=current.version if current is not None else None,
            auc=model.metadata.get("metrics", {}).get("holdout_auc"),
        )
        return True

    async def poll(self) -> None:
        """Background task: check for a newer version every `poll_s` seconds (loads off the loop)."""
        if self.poll_s <= 0:
            await asyncio.Event().wait()
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await asyncio.to_thread(self.refresh)
            except OSError as exc:  # e.g. the folder is on a volume that went away: keep serving
                log.warning("model poll failed", error=repr(exc))
