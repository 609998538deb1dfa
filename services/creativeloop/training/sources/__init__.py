"""Model sources: each module registers its models with `creativeloop.training.repository.source.register`."""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    """Import every module in this package so each registers its sources (import order: by name)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
