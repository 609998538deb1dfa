"""manifest.json: what the repository holds, byte for byte, and where each model came from.

One entry per model: the sha256 and size of every file in its folder, the packages it was built
from (``name==version``) and the build tools' versions. Written sorted and without timestamps
so that a rebuild that changes nothing changes no byte, and ``models check`` can tell a
tampered or half-copied repository from a good one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from creativeloop.datasets.wheels import sha256_file
from creativeloop.kit.files import write_atomically

MANIFEST = "manifest.json"
FORMAT = 1


def file_entries(model_dir: Path) -> dict[str, dict[str, Any]]:
    """``relative/path -> {sha256, size}`` for every file under a model folder."""
    return {
        path.relative_to(model_dir).as_posix(): {"sha256": sha256_file(path), "size": path.stat().st_size}
        for path in sorted(model_dir.rglob("*"))
        if path.is_file()
    }


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest's content, or an empty one if the repository has none yet."""
    path = root / MANIFEST
    if not path.is_file():
        return {"format": FORMAT, "models": {}}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def render_manifest(models: dict[str, dict[str, Any]]) -> str:
    return (
        json.dumps({"format": FORMAT, "models": dict(sorted(models.items()))}, indent=2, sort_keys=True)
        + "\n"
    )


def write_manifest(root: Path, models: dict[str, dict[str, Any]]) -> Path:
    path = root / MANIFEST
    write_atomically(path, render_manifest(models).encode("utf-8"))
    return path


def check_manifest(root: Path) -> list[str]:
    """Files that differ from, are missing from, or are not listed in manifest.json."""
    path = root / MANIFEST
    if not path.is_file():
        return [f"no {path} (build the repository: creativeloop models build)"]
    models: dict[str, Any] = read_manifest(root).get("models", {})
    problems: list[str] = []
    on_disk = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in on_disk:
        if name not in models:
            problems.append(f"{name}: folder is not in {MANIFEST}")
    for name, entry in sorted(models.items()):
        model_dir = root / name
        if not model_dir.is_dir():
            problems.append(f"{name}: listed in {MANIFEST} but {model_dir} is missing")
            continue
        actual = file_entries(model_dir)
        listed: dict[str, Any] = entry.get("files", {})
        for rel in sorted(set(listed) | set(actual)):
            if rel not in actual:
                problems.append(f"{name}: {rel} listed in {MANIFEST} but missing")
            elif rel not in listed:
                problems.append(f"{name}: {rel} is not listed in {MANIFEST}")
            elif actual[rel] != listed[rel]:
                problems.append(
                    f"{name}: {rel} differs from {MANIFEST} (sha256 {actual[rel]['sha256'][:12]}…)"
                )
    return problems
