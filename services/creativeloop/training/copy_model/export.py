"""Export the trained copy VAE as two ONNX graphs and measure them against torch.

`copy_generator_encoder`: src_ids INT64 [B, S] -> memory FP32 [B, S, D], mu / logvar FP32 [B, Z]
`copy_generator_decoder`: memory [B, S, D], src_mask INT64 [B, S], z [B, Z], prefix_ids INT64
[B, T] -> logits FP32 [B, V] (the next token after the last prefix position).

The decoding loop lives in Python (`generator.py`), so the same two files serve embedded
onnxruntime and Triton. Side files beside the encoder: `tokenizer.json` and `generator.json`
(limits, special ids, the weights digest), which the runtime reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from creativeloop.copygen.tokenizer import SPECIALS, encode_source, encode_target
from creativeloop.training.copy_model.train import TrainResult
from creativeloop.training.copy_model.vae import CopyVAE, DecoderGraph, EncoderGraph
from creativeloop.training.sources._common import export_onnx, ort_session

ENCODER, DECODER = "copy_generator_encoder", "copy_generator_decoder"
OPSET = 17


@dataclass(frozen=True)
class Agreement:
    """Largest differences between ONNX (onnxruntime, 1 thread) and torch on held-out inputs."""

    pairs: int
    memory_max_abs: float
    mu_max_abs: float
    logits_max_abs: float
    greedy_same_tokens: float  # share of greedy next tokens that agree


def generator_meta(model: CopyVAE, result: TrainResult) -> dict[str, Any]:
    c = model.config
    return {
        "format": 1,
        "profile": result.profile,
        "seed": result.seed,
        "weights_sha256": result.weights_sha256,
        "max_src": c.max_src,
        "max_tgt": c.max_tgt,
        "latent": c.latent,
        "d_model": c.d_model,
        "vocab_size": c.vocab_size,
        "specials": list(SPECIALS),
    }


def _export(
    module: torch.nn.Module,
    args: tuple[Any, ...],
    path: Path,
    names: tuple[list[str], list[str]],
    axes: dict[str, dict[int, str]],
    dims: dict[str, tuple[int | str, ...]],
) -> None:
    export_onnx(
        module,
        args,
        path,
        input_names=names[0],
        output_names=names[1],
        dynamic_axes=axes,
        opset=OPSET,
        output_dims=dims,
    )


def export(
    model: CopyVAE, tokenizer: Tokenizer, result: TrainResult, encoder_dir: Path, decoder_dir: Path
) -> None:
    """Write `<dir>/1/model.onnx` for both graphs, plus the encoder's side files."""
    model.eval()
    c = model.config
    src = torch.tensor([[1, 10, 11, 12, 2], [1, 13, 2, 0, 0]], dtype=torch.int64)
    with torch.no_grad():
        memory, mu, _ = model.encode(src)
    prefix = torch.tensor([[1, 20, 21], [1, 22, 23]], dtype=torch.int64)
    _export(
        EncoderGraph(model).eval(),
        (src,),
        encoder_dir / "1" / "model.onnx",
        (["src_ids"], ["memory", "mu", "logvar"]),
        {
            "src_ids": {0: "batch", 1: "source"},
            "memory": {0: "batch", 1: "source"},
            "mu": {0: "batch"},
            "logvar": {0: "batch"},
        },
        {"memory": ("batch", "source", c.d_model), "mu": ("batch", c.latent), "logvar": ("batch", c.latent)},
    )
    _export(
        DecoderGraph(model).eval(),
        (memory, (src != 0).to(torch.int64), mu, prefix),
        decoder_dir / "1" / "model.onnx",
        (["memory", "src_mask", "z", "prefix_ids"], ["logits"]),
        {
            "memory": {0: "batch", 1: "source"},
            "src_mask": {0: "batch", 1: "source"},
            "z": {0: "batch"},
            "prefix_ids": {0: "batch", 1: "prefix"},
            "logits": {0: "batch"},
        },
        {"logits": ("batch", c.vocab_size)},
    )
    model.eval()  # the exporter restores the wrappers' mode recursively: make sure it is eval
    tokenizer.save(str(encoder_dir / "tokenizer.json"))
    meta = json.dumps(generator_meta(model, result), indent=2, sort_keys=True) + "\n"
    (encoder_dir / "generator.json").write_text(meta, encoding="utf-8")


def measure(
    model: CopyVAE, tokenizer: Tokenizer, sources: list[str], targets: list[str], encoder: Path, decoder: Path
) -> Agreement:
    """Run both graphs and torch on real pairs, one at a time (ragged lengths exercise the dynamic axes)."""
    enc, dec = ort_session(encoder), ort_session(decoder)
    c = model.config
    worst = [0.0, 0.0, 0.0]
    same = total = 0
    for text, title in zip(sources, targets, strict=True):
        src = np.asarray([encode_source(tokenizer, text, c.max_src)], dtype=np.int64)
        tgt = encode_target(tokenizer, title, c.max_tgt)
        memory, mu, _ = enc.run(None, {"src_ids": src})
        with torch.no_grad():
            t_memory, t_mu, _ = model.encode(torch.from_numpy(src))
        worst[0] = max(worst[0], float(np.abs(memory - t_memory.numpy()).max()))
        worst[1] = max(worst[1], float(np.abs(mu - t_mu.numpy()).max()))
        mask = np.ones_like(src)
        for end in range(1, len(tgt)):
            prefix = np.asarray([tgt[:end]], dtype=np.int64)
            (logits,) = dec.run(None, {"memory": memory, "src_mask": mask, "z": mu, "prefix_ids": prefix})
            with torch.no_grad():
                t_logits = model.decode(t_memory, torch.from_numpy(mask), t_mu, torch.from_numpy(prefix))[
                    :, -1
                ]
            worst[2] = max(worst[2], float(np.abs(logits - t_logits.numpy()).max()))
            same += int(logits.argmax() == int(t_logits.argmax()))
            total += 1
    return Agreement(len(sources), worst[0], worst[1], worst[2], same / max(total, 1))
