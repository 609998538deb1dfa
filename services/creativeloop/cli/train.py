"""`creativeloop train NAME`: train the project's own models outside `creativeloop models build`.

- `scene`: the scene combiner, written where the package ships it
  (``creativeloop/understanding/models/scene.txt``), then its held-out report;
- `scene-samples`: a few pictures of every kind of the scene set, to look at;
- `copy-model`: a copy generator checkpoint (`creativeloop models build` exports one with
  ``CREATIVELOOP_COPYGEN_CHECKPOINT``);
- `adlaw-implied`: the ad-law checker's learned component for implied claims, written where
  the package ships it (``creativeloop/compliance/models/implied.json``).

The aesthetics and ranking models train elsewhere: `creativeloop models build --only aesthetics`
and `creativeloop ranking train`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from creativeloop.datasets.ad_claims import SEED as ADLAW_SEED
from creativeloop.datasets.scenes import COUNTS, SEED, TEST, TRAIN, missing_sources, write_samples
from creativeloop.evaluation import scene as scene_report
from creativeloop.training import adlaw_implied
from creativeloop.training.scene import scene_classifier, split_features, train_model
from creativeloop.understanding.scene import DEFAULT_MODEL

_PATH = click.Path(path_type=Path)
#: The copy model's profiles (creativeloop.training.copy_model.train.PROFILES), listed here so
#: that `--help` does not import torch.
_COPY_PROFILES = ("full", "tiny")


@click.group("train")
def train() -> None:
    """Train the project's own models (deterministic: the same inputs give the same files)."""


@train.command("scene")
@click.option(
    "--repository", type=_PATH, default=None, help="model repository (default: CREATIVELOOP_MODELS_*)"
)
@click.option("--model", type=_PATH, default=DEFAULT_MODEL, show_default=True, help="combiner file to write")
@click.option("--train-per-class", default=COUNTS[TRAIN], show_default=True)
@click.option("--test-per-class", default=COUNTS[TEST], show_default=True)
@click.option("--seed", default=SEED, show_default=True)
@click.option("--cache", type=_PATH, default=None, help="keep extracted features here (reused when present)")
@click.option("--json", "json_path", type=_PATH, default=None, help="write the test figures as JSON here")
def scene(
    repository: Path | None,
    model: Path,
    train_per_class: int,
    test_per_class: int,
    seed: int,
    cache: Path | None,
    json_path: Path | None,
) -> None:
    """Build the scene set, train the scene combiner on its train split, write it to --model, and
    report on the held-out test split (as `creativeloop eval scene`). Exit 2 when photos of the set
    are missing: figures on a partial set are not comparable."""
    missing = missing_sources()
    if missing:
        click.echo(scene_report.MISSING_HINT + ", ".join(missing), err=True)
        click.echo("refusing to train on a partial set: the figures would not be comparable", err=True)
        sys.exit(2)
    classifier, client = scene_classifier(repository, model)
    timings: dict[str, float] = {}
    test = split_features(classifier, TEST, test_per_class, seed, cache, timings)
    training = split_features(classifier, TRAIN, train_per_class, seed, cache, timings)
    click.echo(train_model(training, model).summary())
    report = scene_report.evaluate(model, test)
    click.echo(scene_report.format_report(report, seed, timings))
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    client.close()


@train.command("scene-samples")
@click.option(
    "--out", type=_PATH, default=Path("scene-samples"), show_default=True, help="where to write PNGs"
)
@click.option("--seed", default=SEED, show_default=True)
def scene_samples(out: Path, seed: int) -> None:
    """Write four pictures of every scene kind in each split, to look at the set."""
    click.echo(f"wrote {write_samples(out, seed)} samples to {out}")


@train.command("copy-model")
@click.option(
    "--profile",
    type=click.Choice(_COPY_PROFILES),
    default=None,
    help="default: $CREATIVELOOP_COPYGEN_TRAIN_PROFILE or tiny",
)
@click.option("--data-dir", type=_PATH, default=Path("var/data"), show_default=True)
@click.option("--out", type=_PATH, default=None, help="checkpoint folder (default var/copygen/<profile>)")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=1, show_default=True, help="torch threads (the weights depend on it)")
@click.option("--steps", default=0, show_default=True, help="override the profile's step count (0: keep)")
def copy_model(
    profile: str | None, data_dir: Path, out: Path | None, seed: int, threads: int, steps: int
) -> None:
    """Train the copy generator (conditional Transformer VAE) on the review corpus, on CPU, reproducibly."""
    # torch: the `models` extra (build time only), so only this command needs it.
    from creativeloop.training.copy_model.train import train_and_save

    result, folder = train_and_save(data_dir, out, profile, seed, threads, steps, log=click.echo)
    click.echo(json.dumps({k: v for k, v in asdict(result).items() if k != "config"}, indent=2))
    click.echo(f"saved to {folder}")


@train.command("adlaw-implied")
@click.option(
    "--data-dir", type=_PATH, default=Path("var/data"), show_default=True, help="the review corpora"
)
@click.option(
    "--model", type=_PATH, default=adlaw_implied.DEFAULT_OUT, show_default=True, help="file to write"
)
@click.option("--seed", default=ADLAW_SEED, show_default=True)
@click.option("--json", "json_path", type=_PATH, default=None, help="write the training figures as JSON here")
def adlaw_implied_model(data_dir: Path, model: Path, seed: int, json_path: Path | None) -> None:
    """Train the ad-law checker's learned component (implied claims) on the project's template
    phrases and review sentences (never the tuning or test sets) and write it to --model."""
    report = adlaw_implied.train(data_dir, model, seed=seed)
    click.echo(report.format())
    if json_path is not None:
        json_path.write_text(json.dumps(adlaw_implied.report_dict(report), indent=2) + "\n", encoding="utf-8")
