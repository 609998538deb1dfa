"""TextEmbedder: BERT WordPiece on vocab.txt, batches within the model's limit, caller's order kept."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from creativeloop.kit.models.client import BackendHealth
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.kit.models.spec import ModelSpec, TensorSpec
from creativeloop.kit.models.text_embedder import MAX_LENGTH, TextEmbedder, encode, make_tokenizer
from tests.unit.test_modelrepo_support import reference_repository


@pytest.fixture(scope="module")
def repository() -> Path:
    return reference_repository().repository


@pytest.fixture(scope="module")
def vocab(repository: Path) -> Path:
    return repository / "text_embedding" / "vocab.txt"


@pytest.fixture(scope="module")
def client(repository: Path) -> Iterator[EmbeddedModelClient]:
    embedded = EmbeddedModelClient(repository)
    yield embedded
    embedded.close()


class RecordingClient:
    """A ModelClient that returns each row's first token id, recording the batches it was sent."""

    backend = "recording"

    def __init__(self, max_batch_size: int) -> None:
        ids = TensorSpec("input_ids", np.dtype(np.int64), (-1,))
        mask = TensorSpec("attention_mask", np.dtype(np.int64), (-1,))
        out = TensorSpec("embedding", np.dtype(np.float32), (384,))
        self._spec = ModelSpec("text_embedding", max_batch_size, (ids, mask), (out,))
        self.calls: list[dict[str, np.ndarray]] = []

    def spec(self, model: str) -> ModelSpec:
        return self._spec

    def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        self._spec.validate_inputs(inputs)
        self.calls.append(dict(inputs))
        lengths = inputs["attention_mask"].sum(axis=1).astype(np.float32)
        return {"embedding": np.repeat(lengths[:, None], 384, axis=1)}

    async def ainfer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        return self.infer(model, inputs, outputs)

    async def health(self, models: Sequence[str]) -> BackendHealth:
        return BackendHealth(True)

    def close(self) -> None:
        pass


def test_tokenisation_is_uncased_wordpiece_with_cls_and_sep(vocab: Path) -> None:
    ids, mask = encode(make_tokenizer(vocab), ["Hello World!", "hi"])
    tokenizer = make_tokenizer(vocab)
    assert [tokenizer.id_to_token(int(i)) for i in ids[0]] == ["[CLS]", "hello", "world", "!", "[SEP]"]
    assert ids.dtype == mask.dtype == np.int64
    assert mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert ids[1, 3:].tolist() == [0, 0]


def test_batches_stay_within_the_limit_and_results_keep_the_callers_order(vocab: Path) -> None:
    fake = RecordingClient(max_batch_size=2)
    texts = ["one two three four five", "one", "one two three", "one two", "x " * 400]

    result = TextEmbedder(fake, vocab, batch_size=32).embed(texts)

    assert [call["input_ids"].shape[0] for call in fake.calls] == [2, 2, 1]
    assert result[:, 0].tolist() == [7.0, 3.0, 5.0, 4.0, float(MAX_LENGTH)]  # tokens incl. [CLS] and [SEP]
    assert max(call["input_ids"].shape[1] for call in fake.calls) == MAX_LENGTH
    assert TextEmbedder(fake, vocab).embed([]).shape == (0, 384)


def test_embeddings_are_unit_length_and_mean_what_the_text_means(
    client: EmbeddedModelClient, vocab: Path
) -> None:
    embedder = TextEmbedder(client, vocab)
    texts = ["This dress fits perfectly.", "The dress has a great fit.", "The parcel arrived two weeks late."]

    vectors = embedder.embed(texts)

    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.7 > vectors[0] @ vectors[2]
    np.testing.assert_allclose(embedder.embed(texts[::-1])[::-1], vectors, atol=1e-5)


async def test_async_and_int8_paths_agree(client: EmbeddedModelClient, repository: Path, vocab: Path) -> None:
    texts = ["Soft fabric, runs a little large.", "Colour faded after one wash."]
    embedder = TextEmbedder(client, vocab)
    int8 = TextEmbedder(client, repository / "text_embedding_int8" / "vocab.txt", model="text_embedding_int8")

    sync = embedder.embed(texts)

    np.testing.assert_allclose(await embedder.aembed(texts), sync, atol=1e-6)
    assert ((await int8.aembed(texts)) * sync).sum(axis=1).min() > 0.95
