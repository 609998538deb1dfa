"""`creativeloop eval NAME`: the quality reports that docs/quality.md records.

Each command is a thin layer over `creativeloop.evaluation.<module>`: it reads its options,
calls the module's functions and prints what they return.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from creativeloop.datasets.ad_composites import build_ad_cases
from creativeloop.datasets.ad_layouts import build_layouts
from creativeloop.datasets.ad_text import build_set, resolve_fonts, save_set
from creativeloop.datasets.clips import DEFAULT_DATA_DIR
from creativeloop.datasets.cutouts import BACKGROUND_KINDS, CUTOUTS, build_cases
from creativeloop.datasets.scenes import COUNTS, SEED, TEST, missing_sources
from creativeloop.evaluation import aesthetics as aesthetics_report
from creativeloop.evaluation import compliance as compliance_report
from creativeloop.evaluation import copy as copy_report
from creativeloop.evaluation import creatives as creatives_report
from creativeloop.evaluation import ocr as ocr_report
from creativeloop.evaluation import product_box as product_box_report
from creativeloop.evaluation import scene as scene_report
from creativeloop.evaluation import video as video_report
from creativeloop.evaluation.policy_bench import references as bench_policies
from creativeloop.evaluation.policy_bench import report as bench_report
from creativeloop.evaluation.policy_bench import runner as bench_runner
from creativeloop.evaluation.policy_bench.worlds import HELD_BACK_FROM as WORLD_HELD_BACK
from creativeloop.evaluation.policy_bench.worlds import WORLDS
from creativeloop.kit.models.factory import model_client_from_settings
from creativeloop.kit.settings import ModelSettings
from creativeloop.training.scene import scene_classifier, split_features
from creativeloop.understanding.ocr import OcrPipeline
from creativeloop.understanding.scene import DEFAULT_MODEL

_PATH = click.Path(path_type=Path)
_REPOSITORY_HELP = "model repository (default: CREATIVELOOP_MODELS_*)"
_SET = click.option(
    "--set",
    "which",
    type=click.Choice(["tuning", "test"]),
    default="tuning",
    show_default=True,
    help="tuning: the project's own generated set; test: the independent test set "
    "(creativeloop.datasets.test_sets), aggregate figures only; never tune on it",
)


@click.group("eval")
def evaluate() -> None:
    """Quality reports: each capability measured on data kept apart from what it was tuned on."""


@evaluate.command("compliance")
@click.option(
    "--set",
    "set_name",
    type=click.Choice(sorted(compliance_report.SETS)),
    default="project",
    show_default=True,
    help="project: ad_phrases.tsv; tuning: ad_phrases_tuning.tsv; test: the independent set "
    "(aggregate figures only)",
)
@click.option("--split", type=click.Choice(["all", "dev", "heldout"]), default="all", show_default=True)
@click.option("--phrases", type=_PATH, default=None, help="a phrase file other than the set's own")
@click.option("--rules-only", is_flag=True, help="leave out the learned component for implied claims")
@click.option("--json", "as_json", is_flag=True, help="print scores (and, for open sets, errors) as JSON")
def compliance(set_name: str, split: str, phrases: Path | None, rules_only: bool, as_json: bool) -> None:
    """Score the ad-law checker on a labelled phrase set: precision, recall and F1 per language,
    tricky-negative false positives, implicit recall, per-category figures, and (except for the
    test set) the errors."""
    report = compliance_report.evaluate(split, phrases, set_name=set_name, rules_only=rules_only)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(report.format())


@evaluate.command("copy")
@click.option("--repository", type=_PATH, default=Path("deploy/model-repository"), show_default=True)
@click.option("--data-dir", type=_PATH, default=Path("var/data"), show_default=True)
@click.option("--reviews", default=300, show_default=True)
@click.option("--samples", default=8, show_default=True, help="latent codes per review (model)")
@click.option("--seed", default=0, show_default=True)
def copy(repository: Path, data_dir: Path, reviews: int, samples: int, seed: int) -> None:
    """How good is the generated copy? Held-out reviews, their real titles as the reference."""
    repository = copy_report.ensure_repository(repository)
    version, systems, references = copy_report.evaluate(repository, data_dir, reviews, samples, seed)
    click.echo(copy_report.markdown(version, repository, reviews, systems, references))


@evaluate.command("creatives")
@click.option(
    "--sheet",
    type=_PATH,
    default=creatives_report.DEFAULT_SHEET,
    show_default=True,
    help="contact sheet PNG path",
)
@click.option("--no-sheet", is_flag=True, help="do not write the contact sheet")
def creatives(sheet: Path, no_sheet: bool) -> None:
    """Layout checks over many products and templates, and a contact sheet; exit 1 on any violation."""
    result = creatives_report.run(None if no_sheet else sheet)
    click.echo(creatives_report.markdown(result))
    click.echo(json.dumps({"quality": "imagegen_layout", **result}))
    if creatives_report.failures(result):
        sys.exit(1)


@evaluate.command("video")
@click.option("--data-dir", type=_PATH, default=DEFAULT_DATA_DIR, show_default=True)
@click.option(
    "--synthetic", default=6, show_default=True, help="Synthetic clips (the default script + random)."
)
@click.option("--tolerance", default=2, show_default=True, help="Frames a boundary may be off.")
@click.option("--contact-sheet", type=_PATH, default=None, help="Write the contact sheet PNG here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--set",
    "which",
    type=click.Choice(["tuning", "test"]),
    default="tuning",
    show_default=True,
    help="tuning: the project's clips and drawn videos; test: the independent shot test set "
    "(aggregate figures only, plus SummarizeVideo speed against PySceneDetect on its clips).",
)
@click.option(
    "--cases", default=27, show_default=True, help="Shot-case tuning clips (photos and film, issue-16 cases)."
)
@click.option(
    "--metrics-dir",
    type=_PATH,
    default=None,
    help="Write every tuning clip's per-frame detector metrics here as CSV (PySceneDetect's stats format).",
)
def video(
    data_dir: Path,
    synthetic: int,
    tolerance: int,
    contact_sheet: Path | None,
    as_json: bool,
    which: str,
    cases: int,
    metrics_dir: Path | None,
) -> None:
    """Shot-boundary precision/recall/F1, budget adherence, and a contact sheet of chosen shots."""
    if which == "test":
        report = video_report.run_test_set(tolerance)
        click.echo(video_report.to_json(report) if as_json else video_report.markdown_test_set(report))
        return
    report = video_report.run(data_dir, synthetic, tolerance, contact_sheet, cases, metrics_dir)
    click.echo(video_report.to_json(report) if as_json else video_report.markdown(report))


@evaluate.command("ocr")
@click.option("--count", default=144, show_default=True, help="rendered images")
@click.option("--seed", default=7, show_default=True)
@click.option("--batch", default=8, show_default=True, help="images per pipeline call")
@click.option("--repository", type=_PATH, default=None, help=_REPOSITORY_HELP)
@click.option("--save", type=_PATH, default=None, help="write the rendered PNGs and truth.json here")
@click.option("--json", "json_path", type=_PATH, default=None, help="write the figures as JSON here")
@click.option("--compare-rapidocr", is_flag=True, help="also run rapidocr.RapidOCR() and report agreement")
@click.option("--layouts", default=60, show_default=True, help="rendered layouts (detection, reading order)")
@_SET
def ocr(
    which: str,
    layouts: int,
    count: int,
    seed: int,
    batch: int,
    repository: Path | None,
    save: Path | None,
    json_path: Path | None,
    compare_rapidocr: bool,
) -> None:
    """How well the OCR reads ad copy: rendered ads with known text, character accuracy per condition."""
    settings = ModelSettings()
    if repository is not None:
        settings = settings.model_copy(update={"repository": repository})
    if which == "test":
        client = model_client_from_settings(settings)
        figures = ocr_report.evaluate_test_set(
            OcrPipeline.from_repository(client, settings.repository), batch
        )
        click.echo(figures.format("OCR, independent test set"))
        client.close()
        return
    fonts, missing = resolve_fonts()
    for note in missing:
        click.echo(f"note: {note}", err=True)
    if not any(f.spec.cjk for f in fonts):
        click.echo("note: no CJK font installed: Chinese samples are skipped", err=True)
    samples = build_set(count, seed, fonts)
    if save is not None:
        save_set(samples, save)
    client = model_client_from_settings(settings)
    pipeline = OcrPipeline.from_repository(client, settings.repository)
    report = ocr_report.evaluate(
        pipeline,
        samples,
        fonts,
        seed=seed,
        backend=settings.backend,
        batch=batch,
        compare_rapidocr=compare_rapidocr,
    )
    click.echo(ocr_report.format_report(report))
    if layouts:
        rendered = build_layouts(layouts, seed, fonts)
        click.echo(ocr_report.evaluate_layouts(pipeline, rendered, batch).format(f"layouts (seed {seed})"))
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    client.close()


@evaluate.command("scene")
@click.option("--repository", type=_PATH, default=None, help=_REPOSITORY_HELP)
@click.option("--model", type=_PATH, default=DEFAULT_MODEL, show_default=True, help="combiner file")
@click.option("--test-per-class", default=COUNTS[TEST], show_default=True)
@click.option("--seed", default=SEED, show_default=True)
@click.option("--cache", type=_PATH, default=None, help="keep extracted features here (reused when present)")
@click.option("--json", "json_path", type=_PATH, default=None, help="write the figures as JSON here")
@_SET
def scene(
    which: str,
    repository: Path | None,
    model: Path,
    test_per_class: int,
    seed: int,
    cache: Path | None,
    json_path: Path | None,
) -> None:
    """Scene classes on the held-out test split of the scene set: accuracy and confusion matrix.

    `creativeloop train scene` trains the model first; `creativeloop train scene-samples` writes
    pictures of the set to look at.
    """
    if which == "test":
        classifier, client = scene_classifier(repository, model)
        report = scene_report.evaluate(model, scene_report.test_set_features(classifier))
        click.echo(scene_report.format_test_report(report))
        client.close()
        return
    missing = missing_sources()
    if missing:
        click.echo(scene_report.MISSING_HINT + ", ".join(missing), err=True)
    classifier, client = scene_classifier(repository, model)
    timings: dict[str, float] = {}
    test = split_features(classifier, TEST, test_per_class, seed, cache, timings)
    report = scene_report.evaluate(model, test)
    click.echo(scene_report.format_report(report, seed, timings))
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    client.close()


@evaluate.command("product-box")
@click.option("--limit", default=0, show_default=True, help="only the first N cut-outs (0: all)")
@click.option("--seed", default=7, show_default=True, help="placement/backdrop draw (7 tuned, others fresh)")
@click.option(
    "--backgrounds", default=",".join(BACKGROUND_KINDS), show_default=True, help="comma-separated kinds"
)
@click.option("--save", type=_PATH, default=None, help="folder to write the worst cases to as JPEG")
@click.option(
    "--ads", default=100, show_default=True, help="ad pictures (text, badges, shadows, props); 0: none"
)
@click.option(
    "--ads-seed", default=2026, show_default=True, help="ad pictures' draw (2026 tuned, others fresh)"
)
@click.option("--repository", type=_PATH, default=None, help=_REPOSITORY_HELP + ", for the OCR")
@_SET
def product_box(
    which: str,
    limit: int,
    seed: int,
    backgrounds: str,
    save: Path | None,
    ads: int,
    ads_seed: int,
    repository: Path | None,
) -> None:
    """How well product_box finds the product: mean mask IoU and box IoU per background kind, and
    on ad pictures with the text OCR reads (as the understanding service locates it)."""
    settings = ModelSettings()
    if repository is not None:
        settings = settings.model_copy(update={"repository": repository})
    if which == "test":
        client = model_client_from_settings(settings)
        reader = product_box_report.ocr_text_boxes(OcrPipeline.from_repository(client, settings.repository))
        click.echo(product_box_report.run_test_set(product_box_report.locate_with(reader)).format())
        client.close()
        return
    missing = product_box_report.missing()
    if missing:
        click.echo("missing sample files: " + ", ".join(missing))
        sys.exit(2)
    names = list(CUTOUTS)[:limit] if limit else None
    results = product_box_report.run(build_cases(names, backgrounds=backgrounds.split(","), seed=seed))
    click.echo(product_box_report.report(results))
    if save is not None:
        product_box_report.save_worst(results, save)
    if ads:
        client = model_client_from_settings(settings)
        reader = product_box_report.ocr_text_boxes(OcrPipeline.from_repository(client, settings.repository))
        click.echo("")
        click.echo(
            product_box_report.ad_report(
                build_ad_cases(ads, ads_seed), product_box_report.locate_with(reader)
            )
        )
        client.close()


@evaluate.command("aesthetics")
@click.option("--repository", type=_PATH, default=Path("deploy/model-repository"), show_default=True)
@_SET
def aesthetics(which: str, repository: Path) -> None:
    """How well the aesthetic score follows picture quality on photos the model never saw."""
    if which == "test":
        click.echo(aesthetics_report.test_set_report(repository))
        return
    missing = aesthetics_report.missing()
    if missing:
        click.echo("missing sample photos: " + ", ".join(missing))
        sys.exit(2)
    click.echo(aesthetics_report.report(repository))


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@evaluate.command("policies")
@click.option(
    "--worlds", default=",".join(WORLDS), show_default=True, help=f"comma-separated, of: {', '.join(WORLDS)}"
)
@click.option(
    "--seeds",
    default=None,
    help=(
        f"comma-separated (default: the tuning seeds {bench_runner.TUNING_SEEDS}; with --final the held-back "
        f"{bench_runner.HELD_BACK_SEEDS}); seeds >= 1000 need --final"
    ),
)
@click.option(
    "--requests", "n_requests", default=200_000, show_default=True, help="requests per world and seed"
)
@click.option(
    "--policies",
    default=",".join(bench_policies.DEFAULT_POLICIES),
    show_default=True,
    help="comma-separated, of: " + ", ".join(bench_policies.policy_names()),
)
@click.option(
    "--delay",
    "delays",
    default="0",
    show_default=True,
    help="comma-separated feedback delays in requests; each run once per delay",
)
@click.option("--final", is_flag=True, help="the final run: allows (and defaults to) the held-back seeds")
@click.option("--json", "json_path", type=_PATH, default=None, help="write every run's metrics as JSON here")
@click.option("--plot", "plot_dir", type=_PATH, default=None, help="write one PNG per world into this folder")
@click.option(
    "--from",
    "sources",
    type=_PATH,
    multiple=True,
    help="run nothing: report the runs saved in these --json files (e.g. one per seed, run apart)",
)
@click.option(
    "--against",
    type=_PATH,
    multiple=True,
    help="--json files of other runs (e.g. the tuning seeds): their figures beside these",
)
def policies(
    worlds: str,
    seeds: str | None,
    n_requests: int,
    policies: str,
    delays: str,
    final: bool,
    json_path: Path | None,
    plot_dir: Path | None,
    sources: tuple[Path, ...],
    against: tuple[Path, ...],
) -> None:
    """Explore-exploit policies on the bench's worlds, on the same request streams: lift vs random,
    % of oracle, tail % of oracle, regret and recovery after drift."""
    if sources:
        rows, curves = bench_report.from_dicts([json.loads(p.read_text()) for p in sources])
    else:
        rows, curves = _run_bench(worlds, seeds, n_requests, policies, delays, final)
    summaries = bench_report.summarise(rows)
    if against:
        other_rows, _ = bench_report.from_dicts([json.loads(p.read_text()) for p in against])
        labels = (_seed_label(rows), _seed_label(other_rows))
        click.echo(bench_report.markdown(summaries, bench_report.summarise(other_rows), labels))
    else:
        click.echo(bench_report.markdown(summaries))
    if json_path is not None:
        settings = {"worlds": _names(worlds), "requests": n_requests, "final": final}
        json_path.write_text(json.dumps(bench_report.to_dict(rows, curves, settings)))
    if plot_dir is not None:
        for path in bench_report.plot(curves, plot_dir):
            click.echo(f"plot: {path}")


def _seed_label(rows: list[bench_report.RunMetrics]) -> str:
    held = {r.seed >= WORLD_HELD_BACK for r in rows}
    return "held-back" if held == {True} else "tuning" if held == {False} else "mixed"


def _run_bench(
    worlds: str, seeds: str | None, n_requests: int, policies: str, delays: str, final: bool
) -> tuple[list[bench_report.RunMetrics], list[bench_report.Curve]]:
    default_seeds = bench_runner.HELD_BACK_SEEDS if final else bench_runner.TUNING_SEEDS
    seed_list = [int(s) for s in _names(seeds)] if seeds else list(default_seeds)
    try:
        bench_runner.check_seeds(seed_list, final)
    except bench_runner.HeldBackSeed as error:
        raise click.UsageError(str(error)) from error
    names = _names(policies)
    unknown = [n for n in names if n not in bench_policies.policy_names()]
    if unknown:
        raise click.UsageError(
            f"unknown policies {unknown}; known: {', '.join(bench_policies.policy_names())}"
        )

    def progress(run: bench_runner.PolicyRun) -> None:
        click.echo(
            f"{run.world} seed {run.seed} {run.policy} delay {run.delay}: "
            f"{run.chosen_ctr.mean():.4f} expected CTR, {run.seconds:.1f} s",
            err=True,
        )

    truths, runs = bench_runner.run(
        _names(worlds),
        seed_list,
        names,
        n_requests,
        [int(d) for d in _names(delays)],
        final=final,
        progress=progress,
    )
    by_stream = {(t.world, t.seed): t for t in truths}
    rows = [bench_report.metrics(r, by_stream[(r.world, r.seed)]) for r in runs]
    curves = [bench_report.curve(r, by_stream[(r.world, r.seed)]) for r in runs]
    return rows, curves
