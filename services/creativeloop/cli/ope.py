"""`creativeloop ope`: off-policy evaluation on the Open Bandit Dataset sample (`obd`), and the OPE
gate that promotes ranking's apprentice policy (`gate`, `promote`, `rollback`)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import click

from creativeloop.evaluation.ope.gate import promote, rollback, run_gate
from creativeloop.evaluation.ope.obd_report import obd_report
from creativeloop.kit.settings import CommonSettings


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


@ope.command("gate")
@click.option(
    "--reward-wait-s",
    default=10.0,
    show_default=True,
    help="Attribution window: a click within this many seconds of its impression is reward 1, "
    "else 0 (ranking's CREATIVELOOP_RANKING_REWARD_WAIT_S).",
)
@click.option("--min-impressions", default=1000, show_default=True, help="Fewest rounds to decide on.")
@click.option("--confidence", default=0.95, show_default=True, help="Two-sided level of the intervals.")
@click.option("--since-s", type=float, default=None, help="Only impressions of the last this many seconds.")
@click.option("--dry-run", is_flag=True, help="Report the decision without writing a promotion.")
def ope_gate(
    reward_wait_s: float, min_impressions: int, confidence: float, since_s: float | None, dry_run: bool
) -> None:
    """Evaluate the apprentice policy off-policy on ad.impressions + ad.clicks and promote it to
    serving (ranking.policy) when its lower confidence bound beats the serving policy."""
    since = None if since_s is None else time.time() - since_s
    report = asyncio.run(
        run_gate(
            CommonSettings(),
            reward_wait_s=reward_wait_s,
            min_impressions=min_impressions,
            confidence=confidence,
            since=since,
            dry_run=dry_run,
        )
    )
    click.echo(report.format())


@ope.command("promote")
@click.argument("policy", type=click.Choice(["thompson", "hybrid", "lints", "shared"]))
@click.option("--actor", default="operator", show_default=True)
@click.option("--note", default="", help="Why (kept on the record).")
def ope_promote(policy: str, actor: str, note: str) -> None:
    """Make every ranking replica serve POLICY now (it must be their apprentice), without the gate."""
    asyncio.run(promote(CommonSettings(), policy, "", actor, note))
    click.echo(f"ranking.policy: serving = {policy} (replicas whose apprentice it is switch at once)")


@ope.command("rollback")
def ope_rollback() -> None:
    """Tombstone ranking.policy: every ranking replica goes back to the policies of its settings."""
    asyncio.run(rollback(CommonSettings()))
    click.echo("ranking.policy: tombstone written; replicas serve their CREATIVELOOP_RANKING_POLICY again")
