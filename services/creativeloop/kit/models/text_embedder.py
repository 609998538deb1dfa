"""Sentence embeddings (all-MiniLM-L6-v2, 384-d, unit length) from the repository's models.

Tokenisation happens here (BERT WordPiece over the model's vocab.txt, lower-cased, at most 128
tokens: the length the model was trained with); pooling and normalisation happen inside the
graph, so a client only pads, calls, and reads ``embedding``. Texts are sorted by length before
batching so a batch pads to similar lengths, and returned in the caller's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import BertWordPieceTokenizer, Encoding

from creativeloop.kit.models.client import ModelClient

MODEL = "text_embedding"
DIMENSIONS = 384
MAX_LENGTH = 128


def make_tokenizer(vocab_path: Path, max_length: int = MAX_LENGTH) -> BertWordPieceTokenizer:
    """The uncased BERT tokenizer all-MiniLM-L6-v2 uses: [CLS] ... [SEP], truncated to ``max_length``."""
    tokenizer = BertWordPieceTokenizer(
        str(vocab_path), lowercase=True, clean_text=True, handle_chinese_chars=True
    )
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def pad(encodings: Sequence[Encoding]) -> tuple[np.ndarray, np.ndarray]:
    """``input_ids`` and ``attention_mask`` (int64 [n, longest]), padded with [PAD] = 0."""
    length = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), length), dtype=np.int64)
    mask = np.zeros((len(encodings), length), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    return ids, mask


def encode(tokenizer: BertWordPieceTokenizer, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Tokenise and pad ``texts`` in one go."""
    return pad(tokenizer.encode_batch(list(texts)))


class TextEmbedder:
    """Embed texts through any `ModelClient`; ``model="text_embedding_int8"`` for the int8 copy."""

    def __init__(
        self,
        client: ModelClient,
        vocab_path: Path,
        *,
        model: str = MODEL,
        max_length: int = MAX_LENGTH,
        batch_size: int = 32,
    ) -> None:
        self.client = client
        self.model = model
        self.tokenizer = make_tokenizer(Path(vocab_path), max_length)
        limit = client.spec(model).max_batch_size
        self.batch_size = min(batch_size, limit) if limit > 0 else 1

    def _batches(self, texts: Sequence[str]) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
        encodings: list[Encoding] = self.tokenizer.encode_batch(list(texts))
        order = np.argsort(np.asarray([len(e.ids) for e in encodings]), kind="stable")
        batches = []
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            ids, mask = pad([encodings[i] for i in rows])
            batches.append((rows, {"input_ids": ids, "attention_mask": mask}))
        return batches

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [len(texts), 384], unit rows, in the order given."""
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for rows, inputs in self._batches(texts):
            result[rows] = self.client.infer(self.model, inputs, ["embedding"])["embedding"]
        return result

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        """`embed` without blocking the event loop."""
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for rows, inputs in self._batches(texts):
            result[rows] = (await self.client.ainfer(self.model, inputs, ["embedding"]))["embedding"]
        return result
