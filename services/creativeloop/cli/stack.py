"""`creativeloop up`, `serve`, `topics create`, `config-docs`: run and configure the services."""

from __future__ import annotations

import asyncio
import runpy
import signal
from pathlib import Path

import click

from creativeloop.kit.admin import ensure_topics
from creativeloop.kit.settings import CommonSettings
from creativeloop.stack.configdoc import render_configuration
from creativeloop.stack.local import LocalStack


@click.command("up")
@click.option("--work-dir", type=click.Path(path_type=Path), default=Path("var/stack"), show_default=True)
@click.option(
    "--fixed-ports/--free-ports",
    default=True,
    show_default=True,
    help="Default ports (broker 9092, services 5005x, metrics 910x) or free ones.",
)
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path),
    default=Path("deploy/models/ranker"),
    show_default=True,
    help="Where ranking finds CTR model versions (`creativeloop ranking train` writes them).",
)
def up(work_dir: Path, fixed_ports: bool, model_dir: Path) -> None:
    """Start the broker and every service locally; Ctrl-C stops them all."""
    model_env = {"CREATIVELOOP_RANKING_MODEL_DIR": str(model_dir.resolve())}
    stack = LocalStack(work_dir.resolve(), fixed_ports=fixed_ports, extra_env=model_env)
    with stack:
        click.echo(f"broker  {stack.bootstrap_servers}")
        for name, service in stack.running.items():
            click.echo(
                f"{name:<14} grpc {service.target}  metrics http://127.0.0.1:{service.metrics_port}/metrics"
            )
        click.echo(f"logs in {work_dir / 'logs'}; Ctrl-C to stop")
        # Block first: sigwait then sees SIGINT even where a shell started us with it ignored.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        received = signal.sigwait({signal.SIGINT, signal.SIGTERM})
        click.echo(f"{signal.Signals(received).name}: stopping")


@click.command("serve")
@click.argument(
    "service",
    type=click.Choice(
        ["understanding", "copygen", "imagegen", "ranking", "bandit", "videogen", "attribution"]
    ),
)
def serve(service: str) -> None:
    """Run one service in the foreground (settings from the environment)."""
    runpy.run_module(f"creativeloop.{service}", run_name="__main__", alter_sys=True)


@click.group("topics")
def topics() -> None:
    """Kafka topics."""


@topics.command("create")
def topics_create() -> None:
    """Create every CreativeLoop topic that is missing (idempotent)."""
    created = asyncio.run(ensure_topics(CommonSettings()))
    click.echo(f"created {len(created)} topics: {', '.join(created) or '-'}")


@click.command("config-docs")
def config_docs() -> None:
    """Print the configuration reference (docs/configuration.md) from the settings classes."""
    click.echo(render_configuration(), nl=False)
