"""Shared fixtures: the real local stack (Tansu + every service as a process) on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One running stack for the integration tests that only read and add data."""
    from creativeloop.stack.local import LocalStack

    with LocalStack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[object]:
    """A Tansu broker of its own for one test, with every CreativeLoop topic created: its own
    consumer-group offsets, changelogs and event-time clocks."""
    import asyncio

    from creativeloop.kit.admin import ensure_topics
    from creativeloop.kit.settings import CommonSettings
    from creativeloop.stack.broker import TansuBroker

    with TansuBroker(log_path=tmp_path / "tansu.log") as running:
        asyncio.run(ensure_topics(CommonSettings(bootstrap_servers=running.bootstrap_servers)))
        yield running


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
