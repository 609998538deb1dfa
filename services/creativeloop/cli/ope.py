"""`creativeloop ope obd`: off-policy evaluation on the Open Bandit Dataset sample."""

from __future__ import annotations

import json
from pathlib import Path

import click

from creativeloop.evaluation.ope.obd_report import obd_report


@click.group("ope")
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
    report = obd_report(data_dir, campaign, seed=seed, n_boot=n_boot, use_vw=use_vw)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format())
