"""Train the copy generator (conditional Transformer VAE) on the review corpus, on CPU, reproducibly.

    creativeloop train copy-model --profile tiny --out var/copygen/tiny
    # ~20-30 min, 1 thread:
    creativeloop train copy-model --profile full --out var/copygen/full

Profiles: `tiny` (seconds; what CI and the default `creativeloop models build` use) and `full`.
`CREATIVELOOP_COPYGEN_TRAIN_PROFILE` picks the profile where no option does. Same seed, same
profile, same thread count -> the same weights (`weights_sha256`): seeded torch/numpy, a seeded
batch order, `torch.use_deterministic_algorithms`, and a fixed thread count (1 by default).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from creativeloop.copygen.tokenizer import (
    BOS_ID,
    PAD_ID,
    UNK_ID,
    encode_source,
    encode_target,
    load_tokenizer,
    train_tokenizer,
)
from creativeloop.training.copy_model.corpus import Pair, Split, load_pairs, split_by_product
from creativeloop.training.copy_model.vae import CopyVAE, VaeConfig, kl_per_dim

PROFILE_ENV = "CREATIVELOOP_COPYGEN_TRAIN_PROFILE"
CHECKPOINT, TOKENIZER, META = "copy_vae.pt", "tokenizer.json", "training.json"


@dataclass(frozen=True)
class TrainProfile:
    """Everything that decides the weights besides the seed and the data."""

    name: str
    vocab_size: int
    model: dict[str, Any]
    steps: int
    batch_size: int
    lr: float
    max_train_pairs: int = 0  # 0 = all
    word_dropout: float = 0.25
    free_bits: float = 0.1  # nats per latent dimension
    kl_warmup: float = 0.3  # share of steps over which the KL weight rises 0 -> 1
    eval_pairs: int = 512


PROFILES: dict[str, TrainProfile] = {
    "tiny": TrainProfile(
        name="tiny",
        vocab_size=600,
        model={
            "d_model": 48,
            "heads": 2,
            "encoder_layers": 1,
            "decoder_layers": 1,
            "feedforward": 96,
            "latent": 8,
            "max_src": 40,
            "max_tgt": 12,
        },
        steps=300,
        batch_size=32,
        lr=3e-3,
        max_train_pairs=2000,
        eval_pairs=128,
    ),
    "full": TrainProfile(
        name="full",
        vocab_size=4000,
        model={
            "d_model": 160,
            "heads": 4,
            "encoder_layers": 2,
            "decoder_layers": 2,
            "feedforward": 384,
            "latent": 32,
            "max_src": 80,
            "max_tgt": 16,
        },
        steps=3000,
        batch_size=64,
        lr=1e-3,
        free_bits=0.2,
    ),
}


@dataclass
class TrainResult:
    profile: str
    seed: int
    threads: int
    train_pairs: int
    held_out_pairs: int
    train_products: int
    held_out_products: int
    steps: int
    seconds: float
    weights_sha256: str
    final_loss: float
    held_out_nll_per_token: float
    held_out_kl: float
    active_units: int
    config: dict[str, Any] = field(default_factory=dict)


def profile_from_env(default: str = "tiny") -> str:
    name = os.environ.get(PROFILE_ENV, "").strip() or default
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={name!r}: known profiles {sorted(PROFILES)}")
    return name


def weights_sha256(model: torch.nn.Module) -> str:
    """Digest of every parameter and buffer, in state_dict order: the determinism check."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def _pad(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD_ID, dtype=torch.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return out


def _encode(tokenizer: Tokenizer, pairs: Sequence[Pair], config: VaeConfig) -> tuple[list[list[int]], ...]:
    return (
        [encode_source(tokenizer, p.source, config.max_src) for p in pairs],
        [encode_target(tokenizer, p.target, config.max_tgt) for p in pairs],
    )


def _word_dropout(prefix: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    if rate <= 0:
        return prefix
    drop = (torch.rand(prefix.shape, generator=generator) < rate) & (prefix != PAD_ID) & (prefix != BOS_ID)
    return prefix.masked_fill(drop, UNK_ID)


def _loss(
    model: CopyVAE, src: torch.Tensor, tgt: torch.Tensor, prefix: torch.Tensor, beta: float, free_bits: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    logits, mu, logvar = model(src, prefix)
    nll = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=PAD_ID
    )
    kl = kl_per_dim(mu, logvar)
    tokens = (tgt[:, 1:] != PAD_ID).sum(dim=1).float().mean()
    # KL is per sequence; NLL per token: scale KL to per token so beta means the same at any length.
    penalty = torch.clamp(kl, min=free_bits).sum() / tokens
    return nll + beta * penalty, nll, kl.sum()


@torch.no_grad()
def evaluate(
    model: CopyVAE, src: list[list[int]], tgt: list[list[int]], batch: int = 64
) -> tuple[float, float, int]:
    """(NLL per target token with z = mu, mean KL per sequence, active latent units) on held-out pairs."""
    model.eval()
    total, count, kls, mus = 0.0, 0, [], []
    for start in range(0, len(src), batch):
        s, t = _pad(src[start : start + batch]), _pad(tgt[start : start + batch])
        logits, mu, logvar = model(s, t[:, :-1], sample=False)
        target = t[:, 1:]
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=PAD_ID, reduction="sum"
        )
        total += float(nll)
        count += int((target != PAD_ID).sum())
        kls.append(float(kl_per_dim(mu, logvar).sum()))
        mus.append(mu)
    variance = torch.cat(mus).var(dim=0)
    return total / max(count, 1), float(np.mean(kls)), int((variance > 0.01).sum())


def train(
    split: Split,
    profile: TrainProfile,
    seed: int,
    threads: int = 1,
    log: Callable[[str], None] | None = None,
) -> tuple[CopyVAE, Tokenizer, TrainResult]:
    """Tokeniser + VAE from `split.train`; figures on `split.held_out`. Deterministic for fixed inputs."""
    started = time.perf_counter()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pairs = list(split.train)
    if profile.max_train_pairs and len(pairs) > profile.max_train_pairs:
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), profile.max_train_pairs, replace=False))]
    tokenizer = train_tokenizer([t for p in pairs for t in (p.source, p.target)], profile.vocab_size)
    config = VaeConfig(vocab_size=tokenizer.get_vocab_size(), **profile.model)
    model = CopyVAE(config)
    src, tgt = _encode(tokenizer, pairs, config)
    held = split.held_out[: profile.eval_pairs]
    held_src, held_tgt = _encode(tokenizer, held, config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=profile.lr, weight_decay=0.01)
    warmup = max(1, profile.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: (
            min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / profile.steps)))
        ),
    )
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    loss_value = 0.0
    model.train()
    for step in range(profile.steps):
        if len(order) < profile.batch_size:
            order += [int(i) for i in rng.permutation(len(pairs))]
        batch, order = order[: profile.batch_size], order[profile.batch_size :]
        s, t = _pad([src[i] for i in batch]), _pad([tgt[i] for i in batch])
        beta = min(1.0, step / max(1.0, profile.kl_warmup * profile.steps))
        prefix = _word_dropout(t[:, :-1], profile.word_dropout, generator)
        loss, _, _ = _loss(model, s, t, prefix, beta, profile.free_bits)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        loss_value = float(loss.detach())
        if log is not None and (step + 1) % 100 == 0:
            log(
                f"step {step + 1}/{profile.steps} loss {loss_value:.3f} {time.perf_counter() - started:.0f} s"
            )
    model.eval()
    nll, kl, active = evaluate(model, held_src, held_tgt)
    result = TrainResult(
        profile=profile.name,
        seed=seed,
        threads=threads,
        train_pairs=len(pairs),
        held_out_pairs=len(split.held_out),
        train_products=len({p.clothing_id for p in split.train}),
        held_out_products=len({p.clothing_id for p in split.held_out}),
        steps=profile.steps,
        seconds=round(time.perf_counter() - started, 1),
        weights_sha256=weights_sha256(model),
        final_loss=round(loss_value, 4),
        held_out_nll_per_token=round(nll, 4),
        held_out_kl=round(kl, 4),
        active_units=active,
        config=config.to_dict(),
    )
    return model, tokenizer, result


def save(out_dir: Path, model: CopyVAE, tokenizer: Tokenizer, result: TrainResult) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / CHECKPOINT)
    tokenizer.save(str(out_dir / TOKENIZER))
    (out_dir / META).write_text(json.dumps(asdict(result), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load(out_dir: Path) -> tuple[CopyVAE, Tokenizer, TrainResult]:
    meta = json.loads((out_dir / META).read_text(encoding="utf-8"))
    result = TrainResult(**meta)
    model = CopyVAE(VaeConfig(**result.config))
    model.load_state_dict(torch.load(out_dir / CHECKPOINT, weights_only=True))
    return model.eval(), load_tokenizer(out_dir / TOKENIZER), result


def train_from_data(
    data_dir: Path, profile: str, seed: int, threads: int = 1
) -> tuple[CopyVAE, Tokenizer, TrainResult]:
    return train(split_by_product(load_pairs(data_dir), seed), PROFILES[profile], seed, threads)


def train_and_save(
    data_dir: Path,
    out: Path | None = None,
    profile: str | None = None,
    seed: int = 0,
    threads: int = 1,
    steps: int = 0,
    log: Callable[[str], None] | None = print,
) -> tuple[TrainResult, Path]:
    """Train ``profile`` (default: `profile_from_env`; ``steps`` > 0 overrides its step count) on
    the corpus in ``data_dir`` and save the checkpoint to ``out`` (default var/copygen/<profile>)."""
    name = profile or profile_from_env()
    chosen = PROFILES[name]
    if steps:
        chosen = TrainProfile(**{**asdict(chosen), "steps": steps})
    split = split_by_product(load_pairs(data_dir), seed)
    model, tokenizer, result = train(split, chosen, seed, threads, log=log)
    folder = out or Path("var/copygen") / name
    save(folder, model, tokenizer, result)
    return result, folder
