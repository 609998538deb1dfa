"""``creativeloop models build``: run the sources, stage, check, swap in, write manifest and cards.

Each model is built into a hidden staging folder inside the repository (``.build-*``: same
filesystem, so the final move is a rename), given its config.pbtxt, checked against its ONNX
file, and only then moved into place, so a failed build never leaves a half-written model where
Triton (or the embedded backend) would load it.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from creativeloop.kit.files import write_atomically
from creativeloop.kit.models.spec import parse_config
from creativeloop.training.repository.cards import write_cards
from creativeloop.training.repository.consistency import check_model
from creativeloop.training.repository.manifest import file_entries, read_manifest, write_manifest
from creativeloop.training.repository.source import (
    BuildContext,
    BuildResult,
    SourceUnavailableError,
    registered,
)
from creativeloop.training.sources._common import version_of

DEFAULT_REPOSITORY = Path("deploy/model-repository")
DEFAULT_DOCS = Path("docs/models")
DEFAULT_DATA = Path("var/data")


class BuildError(RuntimeError):
    """A source produced a model whose config does not match its ONNX file, or failed outright."""


@dataclass
class BuildReport:
    """What one build run did; ``seconds`` per model, ``skipped`` with the reason."""

    built: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _check_config(name: str, result: BuildResult) -> None:
    config = parse_config(result.config)
    if config.name != name:
        raise BuildError(f"model {name!r}: its source's config.pbtxt names it {config.name!r}")


def _manifest_entry(name: str, result: BuildResult, model_dir: Path) -> dict[str, Any]:
    # python as major.minor: patch releases do not change the bytes, and CI images differ in them.
    tools = {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "onnx": version_of(name, "onnx"),
        **result.build_tools,
    }
    return {
        "summary": result.summary,
        "licence": result.licence,
        "packages": sorted(f"{dist}=={version}" for dist, version in result.packages.items()),
        "build_tools": dict(sorted(tools.items())),
        "files": file_entries(model_dir),
    }


def _swap_in(stage: Path, target: Path) -> None:
    """Replace ``target`` by ``stage`` with two renames (same filesystem: the stage is inside)."""
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    stage.rename(target)
    if old.exists():
        shutil.rmtree(old)


def build_repository(
    repository: Path = DEFAULT_REPOSITORY,
    *,
    only: Sequence[str] = (),
    docs_dir: Path | None = DEFAULT_DOCS,
    data_dir: Path = DEFAULT_DATA,
    skip_unavailable: bool = False,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> BuildReport:
    """Build the models (all, or ``only`` these) into ``repository``; cards into ``docs_dir``."""
    sources = registered()

    def selects(pattern: str, name: str) -> bool:
        """A name, or a family: `copy_generator` selects copy_generator_encoder and _decoder."""
        return name == pattern or name.startswith(pattern + "_")

    unknown = sorted(p for p in set(only) if not any(selects(p, name) for name in sources))
    if unknown:
        raise BuildError(f"no model source named {unknown}; known: {sorted(sources)}")
    chosen = [name for name in sources if not only or any(selects(p, name) for p in only)]
    repository.mkdir(parents=True, exist_ok=True)
    report = BuildReport()
    results: dict[str, BuildResult] = {}
    with tempfile.TemporaryDirectory(prefix=".build-", dir=repository) as tmp:
        workdir, staging = Path(tmp) / "work", Path(tmp) / "stage"
        workdir.mkdir()
        for name in chosen:
            started = time.perf_counter()
            stage = staging / name
            (stage / "1").mkdir(parents=True)
            ctx = BuildContext(name=name, out_dir=stage, workdir=workdir, data_dir=data_dir, seed=seed)
            try:
                result = sources[name].build(ctx)
            except SourceUnavailableError as error:
                if not skip_unavailable:
                    raise
                report.skipped[name] = error.reason
                log(f"skipped {name}: {error.reason}")
                continue
            _check_config(name, result)
            write_atomically(stage / "config.pbtxt", result.config.encode("utf-8"))
            problems = check_model(stage, name)
            if problems:
                raise BuildError("; ".join(problems))
            results[name] = result
            report.seconds[name] = time.perf_counter() - started
            log(f"built {name} in {report.seconds[name]:.1f} s")
        manifest: dict[str, Any] = read_manifest(repository).get("models", {})
        for name, result in results.items():
            _swap_in(staging / name, repository / name)
            manifest[name] = _manifest_entry(name, result, repository / name)
            report.built.append(name)
    for name in list(manifest):
        if not (repository / name).is_dir():
            del manifest[name]
    write_manifest(repository, manifest)
    if docs_dir is not None:
        write_cards(docs_dir, results, manifest)
    return report
