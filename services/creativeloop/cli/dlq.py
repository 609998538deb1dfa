"""`creativeloop dlq list|replay TOPIC`: inspect and replay dead letters (`creativeloop.kit.dlq`).

TOPIC is a source topic (``product.changes``) or its DLQ (``product.changes.dlq``); the broker
comes from ``CREATIVELOOP_BOOTSTRAP_SERVERS`` unless ``--bootstrap-servers`` says otherwise.
"""

from __future__ import annotations

import asyncio
import json

import click

from creativeloop.kit.dlq import REPLAY_GROUP, Letter, dlq_topic, list_letters, replay
from creativeloop.kit.settings import CommonSettings


def _settings(bootstrap_servers: str | None) -> CommonSettings:
    if bootstrap_servers:
        return CommonSettings(bootstrap_servers=bootstrap_servers)
    return CommonSettings()


def _check_topic(topic: str) -> None:
    try:
        dlq_topic(topic)
    except KeyError:
        raise click.BadParameter(f"unknown topic {topic!r}", param_hint="TOPIC") from None


def _line(letter: Letter) -> str:
    replayed = f"  (replay of {letter.replay_of})" if letter.replay_of else ""
    return (
        f"{letter.dlq_partition}:{letter.offset:<6} {letter.source_topic}[{letter.source_partition}]"
        f"@{letter.source_offset:<6} {letter.failed_at.isoformat(timespec='seconds')}  "
        f"{letter.consumer:<14} {letter.reason}{replayed}"
    )


bootstrap_option = click.option(
    "--bootstrap-servers", default=None, help="Broker to use instead of CREATIVELOOP_BOOTSTRAP_SERVERS."
)


@click.group("dlq")
def dlq() -> None:
    """Dead-letter queues: list and replay the records a stream stage rejected."""


@dlq.command("list")
@click.argument("topic")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of letters instead of lines.")
@bootstrap_option
def dlq_list(topic: str, as_json: bool, bootstrap_servers: str | None) -> None:
    """List the dead letters of TOPIC: offset, source partition/offset, failed_at, consumer, reason."""
    _check_topic(topic)
    letters = asyncio.run(list_letters(_settings(bootstrap_servers), topic))
    if as_json:
        click.echo(json.dumps([letter.as_dict() for letter in letters], ensure_ascii=False))
        return
    for letter in letters:
        click.echo(_line(letter))
    click.echo(f"{len(letters)} dead letters on {dlq_topic(topic).name}")


@dlq.command("replay")
@click.argument("topic")
@click.option("--group", default=REPLAY_GROUP, show_default=True, help="Consumer group keeping the progress.")
@click.option(
    "--include-failed-replays",
    is_flag=True,
    help="Also replay letters of records that failed again after an earlier replay.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be replayed; publish and commit nothing.")
@bootstrap_option
def dlq_replay(
    topic: str, group: str, include_failed_replays: bool, dry_run: bool, bootstrap_servers: str | None
) -> None:
    """Re-publish TOPIC's dead letters not yet replayed to their source topic (original key and value).

    Idempotent: progress is committed on the DLQ under the replay group, so running it twice
    publishes every letter once, and the stream handlers are idempotent (docs/operations.md).
    """
    _check_topic(topic)
    report = asyncio.run(
        replay(
            _settings(bootstrap_servers),
            topic,
            group=group,
            include_failed_replays=include_failed_replays,
            dry_run=dry_run,
        )
    )
    for letter in report.replayed:
        click.echo(("would replay " if dry_run else "replayed ") + _line(letter))
    for letter in report.skipped:
        click.echo("skipped (failed replay) " + _line(letter))
    for letter in report.truncated:
        click.echo(f"skipped (truncated {letter.truncated}) " + _line(letter))
    verb = "would replay" if dry_run else "replayed"
    click.echo(
        f"{verb} {len(report.replayed)}, skipped {len(report.skipped)} failed replays"
        + (f" and {len(report.truncated)} truncated letters" if report.truncated else "")
    )
