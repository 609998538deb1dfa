"""``creativeloop models``: build and check the Triton model repository."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click

from creativeloop.stack.triton import (
    VENV_ENV,
    LocalTriton,
    RepositoryError,
    TritonLaunchError,
    python_backend_repository,
)
from creativeloop.training.repository.builder import (
    DEFAULT_DATA,
    DEFAULT_DOCS,
    DEFAULT_REPOSITORY,
    BuildError,
    build_repository,
)
from creativeloop.training.repository.consistency import check_repository
from creativeloop.training.repository.manifest import check_manifest
from creativeloop.training.repository.source import SourceUnavailableError, registered


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
    problems = check_repository(repository) + check_manifest(repository)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {repository}")
    click.echo(f"{repository}: consistent")


@models.command("list")
def list_sources() -> None:
    """The model names the build knows (one per registered source)."""
    for name in registered():
        click.echo(name)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@models.command("triton")
@click.option(
    "--repository",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("deploy/model-repository"),
    show_default=True,
    help="The onnxruntime model repository (Triton layout) to serve.",
)
@click.option("--model", "models", multiple=True, help="Serve only this model (repeatable; default: all).")
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/triton"),
    show_default=True,
    help="Derived repository, server workspace and log (recreated).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--grpc-port", default=8001, show_default=True, help="0: a free port.")
@click.option("--http-port", default=8000, show_default=True, help="0: a free port.")
@click.option("--metrics-port", default=8002, show_default=True, help="0: a free port.")
@click.option("--instances", default=1, show_default=True, help="CPU instances per model.")
@click.option(
    "--venv",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Triton virtualenv (default: ${VENV_ENV}, else .venv-triton).",
)
@click.option("--start-timeout", default=120.0, show_default=True, help="Seconds to wait for readiness.")
@click.option("--log-verbose", default=0, show_default=True, help="tritonserver --log-verbose level.")
def triton_command(
    repository: Path,
    models: tuple[str, ...],
    work_dir: Path,
    host: str,
    grpc_port: int,
    http_port: int,
    metrics_port: int,
    instances: int,
    venv: Path | None,
    start_timeout: float,
    log_verbose: int,
) -> None:
    """Serve the model repository with a real Triton server (Python backend over onnxruntime) until
    Ctrl-C or SIGTERM: the v2 gRPC/HTTP API of production, on this machine."""
    work_dir = work_dir.resolve()
    try:
        derived = python_backend_repository(
            repository.resolve(), work_dir, models or None, instance_count=instances
        )
    except (RepositoryError, OSError) as error:
        raise click.ClickException(str(error)) from error
    server = LocalTriton(
        derived,
        work_dir / "server",
        venv=venv,
        host=host,
        grpc_port=grpc_port or None,
        http_port=http_port or None,
        metrics_port=metrics_port or None,
        log_verbose=log_verbose,
    )
    # SIGTERM (docker stop, kill) while starting must stop the server too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.start(timeout_s=start_timeout)
    except TritonLaunchError as error:
        raise click.ClickException(str(error)) from error
    except KeyboardInterrupt:
        click.echo("interrupted while starting; stopped", err=True)
        sys.exit(130)
    with server:
        served = sorted(p.name for p in derived.iterdir() if p.is_dir())
        click.echo(f"triton ready in {server.started_in_s:.1f}s: {', '.join(served)}")
        click.echo(f"grpc {server.grpc_url}  http {server.http_url}  metrics {server.metrics_url}")
        click.echo(f"log {server.log_path}; Ctrl-C to stop")
        signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)
        while server.running:
            received = signal.sigtimedwait(signals, 1.0)
            if received is not None:
                click.echo(f"{signal.Signals(received.si_signo).name}: stopping")
                return
        tail = server.log_tail()
    click.echo(f"tritonserver exited on its own; {server.log_path}:\n{tail}", err=True)
    sys.exit(1)
