"""`creativeloop demo`: the whole loop on a sample catalogue, with simulated users."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from creativeloop.demo.run import run_demo
from creativeloop.evaluation.ope.own_logs import evaluate_demo


@click.command("demo")
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
        click.echo("")
        click.echo(evaluate_demo(result, seed=seed).format())
