"""The copy generator's subword vocabulary: a small BPE trained on the training split only.

Lower-cased, NFKC, Metaspace pre-tokenisation (so decoding restores the spaces), and a fixed
list of special tokens whose ids are a contract with the exported graphs (PAD must be 0: the
encoder derives its padding mask from it). Training with `tokenizers` is deterministic for a
given corpus order, so the same split gives the same `tokenizer.json` bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

PAD, BOS, EOS, UNK, SEP = "[PAD]", "[BOS]", "[EOS]", "[UNK]", "[SEP]"
SPECIALS = (PAD, BOS, EOS, UNK, SEP)
PAD_ID, BOS_ID, EOS_ID, UNK_ID, SEP_ID = range(len(SPECIALS))


def source_text(category: str, department: str, body: str) -> str:
    """The one source format: "dresses | dresses : review or profile text"."""
    return f"{category} | {department} : {' '.join(body.split())}"


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """BPE over `texts` (order matters for determinism: pass a sorted or seeded order)."""
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation(behavior="isolated")]
    )
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=list(SPECIALS), show_progress=False
    )
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    for index, token in enumerate(SPECIALS):
        if tokenizer.token_to_id(token) != index:
            raise RuntimeError(f"special token {token} got id {tokenizer.token_to_id(token)}, wanted {index}")
    return tokenizer


def load_tokenizer(path: Path) -> Tokenizer:
    return Tokenizer.from_file(str(path))


def encode_source(tokenizer: Tokenizer, text: str, max_len: int) -> list[int]:
    """[BOS] source tokens [EOS], truncated to `max_len` (the head of a review says most)."""
    ids = tokenizer.encode(text, add_special_tokens=False).ids[: max_len - 2]
    return [BOS_ID, *ids, EOS_ID]


def encode_target(tokenizer: Tokenizer, text: str, max_len: int) -> list[int]:
    """[BOS] title tokens [EOS]; the decoder is fed all but the last and predicts all but the first."""
    ids = tokenizer.encode(text, add_special_tokens=False).ids[: max_len - 2]
    return [BOS_ID, *ids, EOS_ID]


def decode(tokenizer: Tokenizer, ids: Sequence[int]) -> str:
    """Text of generated ids up to the first [EOS], specials dropped, spacing around punctuation fixed."""
    kept: list[int] = []
    for token in ids:
        if token == EOS_ID:
            break
        if token >= len(SPECIALS):
            kept.append(int(token))
    text = tokenizer.decode(kept, skip_special_tokens=True)
    return tidy(text)


def tidy(text: str) -> str:
    """Undo the isolated-punctuation split: "great dress !" -> "great dress!", "it ' s" -> "it's"."""
    out = " ".join(text.split())
    for mark in (" !", " ?", " .", " ,", " :", " ;", " )", " %"):
        out = out.replace(mark, mark[1:])
    for mark in ("( ", "$ "):
        out = out.replace(mark, mark[:1])
    return out.replace(" ' ", "'").replace(" '", "'").replace(" - ", "-").strip()
