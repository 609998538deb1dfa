"""``creativeloop models``: build and check the Triton model repository."""

from __future__ import annotations

import time
from pathlib import Path

import click
from creativeloop.modelrepo.builder import DEFAULT_DATA, DEFAULT_DOCS, DEFAULT_REPOSITORY, BuildError
from creativeloop.modelrepo.source import SourceUnavailableError


@click.group("models")
def models() -> None:
    """The model repository (Triton layout) the services call through creativeloop.kit.models."""


@models.command("build")
@click.option("--repository", type=click.Path(path_type=Path), default=DEFAULT_REPOSITORY, show_default=True)
@click.option("--only", "only", multiple=True, metavar="NAME", help="Build just this model (repeatable).")
@click.option(
    "--docs",
    "docs_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DOCS,
    show_default=True,
    help="Where the model cards go.",
)
@click.option("--data-dir", type=click.Path(path_type=Path), default=DEFAULT_DATA, show_default=True)
@click.option(
    "--skip-unavailable",
    is_flag=True,
    help="Skip (and keep the old copy of) models whose packages or data are missing instead of failing.",
)
def build(
    repository: Path, only: tuple[str, ...], docs_dir: Path, data_dir: Path, skip_unavailable: bool
) -> None:
    """Build the models from offline sources into REPOSITORY, with manifest.json and model cards."""
    from creativeloop.modelrepo.builder import build_repository

    started = time.perf_counter()
    try:
        report = build_repository(
            repository,
            only=only,
            docs_dir=docs_dir,
            data_dir=data_dir,
            skip_unavailable=skip_unavailable,
            log=click.echo,
        )
    except (BuildError, SourceUnavailableError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"built {len(report.built)} model(s) into {repository} in {time.perf_counter() - started:.1f} s"
    )
    for name, reason in report.skipped.items():
        click.echo(f"skipped {name}: {reason}", err=True)


@models.command("check")
@click.option("--repository", type=click.Path(path_type=Path), default=DEFAULT_REPOSITORY, show_default=True)
def check(repository: Path) -> None:
    """Every config.pbtxt against its ONNX file, every file against manifest.json."""
    from creativeloop.modelrepo.consistency import check_repository
    from creativeloop.modelrepo.manifest import check_manifest

    problems = check_repository(repository) + check_manifest(repository)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {repository}")
    click.echo(f"{repository}: consistent")


@models.command("list")
def list_sources() -> None:
    """The model names the build knows (one per registered source)."""
    from creativeloop.modelrepo.source import registered

    for name in registered():
        click.echo(name)
