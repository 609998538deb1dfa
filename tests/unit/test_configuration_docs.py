"""docs/configuration.md is generated from the settings classes and must match them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from creativeloop.kit.settings import CommonSettings
from creativeloop.ranking.settings import RankingSettings
from creativeloop.stack.configdoc import render_configuration


def test_configuration_reference_is_up_to_date(repo_root: Path) -> None:
    committed = (repo_root / "docs" / "configuration.md").read_text()
    assert committed == render_configuration(), "run: creativeloop config-docs > docs/configuration.md"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREATIVELOOP_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("CREATIVELOOP_RANKING_GRPC_PORT", "6000")
    settings = RankingSettings()
    assert settings.grpc_port == 6000
    assert settings.common.bootstrap_servers == "kafka-0:9092,kafka-1:9092"


def test_invalid_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREATIVELOOP_RANKING_PROPENSITY_SAMPLES", "3")
    with pytest.raises(ValidationError, match="propensity_samples"):
        RankingSettings()
    monkeypatch.setenv("CREATIVELOOP_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError, match="log_level"):
        CommonSettings()
