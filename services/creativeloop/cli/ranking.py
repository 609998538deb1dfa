"""`creativeloop ranking train`: the ranking service's LightGBM CTR model."""

from __future__ import annotations

import json
from pathlib import Path

import click

from creativeloop.kit.settings import CommonSettings
from creativeloop.training.ranker import TrainOptions, train_from_kafka


@click.group("ranking")
def ranking() -> None:
    """The ranking service's CTR model."""


@ranking.command("train")
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path),
    default=Path("deploy/models/ranker"),
    show_default=True,
    help="Model repository to publish into (ranking's MODEL_DIR).",
)
@click.option("--version", default=None, help="Version name; default: UTC time + model hash.")
@click.option("--seed", default=0, show_default=True)
@click.option("--holdout", default=0.2, show_default=True, help="Last fraction of impressions held out.")
@click.option("--ipw/--no-ipw", default=False, show_default=True, help="Weight by 1 / logged propensity.")
@click.option("--rounds", default=400, show_default=True, help="Most boosting rounds (early stopping).")
@click.option("--dry-run", is_flag=True, help="Train and report without publishing a version.")
def ranking_train(
    model_dir: Path, version: str | None, seed: int, holdout: float, ipw: bool, rounds: int, dry_run: bool
) -> None:
    """Train the LightGBM CTR model from ad.impressions / ad.clicks on the broker and version it."""
    options = TrainOptions(seed=seed, holdout=holdout, ipw=ipw, rounds=rounds)
    result = train_from_kafka(CommonSettings(), None if dry_run else model_dir, options, version)
    summary = {
        "version": result.version,
        "path": str(result.path) if result.path is not None else None,
        "data": result.metadata["data"],
        "metrics": result.metadata["metrics"],
    }
    click.echo(json.dumps(summary, indent=2))
