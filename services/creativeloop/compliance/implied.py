"""The learned component: claims made without a listed word (implied superlatives, implied
medical effects, promised results), one sentence at a time.

A multinomial logistic regression over binary n-gram features (Chinese character 1-3-grams,
English word 1-2-grams, digits folded to 0), L2-normalised over the features the model knows.
`creativeloop train adlaw-implied` (``creativeloop.training.adlaw_implied``) trains it on the
project's own phrase files and review sentences and writes `models/implied.json`; serving only
reads that file and scores in plain Python (no scikit-learn, no model server), so `check` stays a
pure function. A sentence is a violation when the probability of its most likely violation
category reaches the model's threshold (chosen at training time for a low false-positive rate on
lawful phrases): a sentence the model finds vaguely suspicious but cannot place under one law is
left alone.

    model = default_model()
    model.predict("nothing else comes close")  # -> Verdict(category="ADLAW_IMPLIED_SUPERLATIVE", ...)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from creativeloop.compliance.textnorm import normalise

FORMAT = 1
OK = "ok"
_CJK_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DIGITS_RE = re.compile(r"[0-9]+")


def features(text: str) -> list[str]:
    """The model's features of `text` (any case or width; normalised here), sorted, unique."""
    folded = _DIGITS_RE.sub("0", normalise(text).text)
    found: set[str] = set()
    for run in _CJK_RUN_RE.findall(folded):
        padded = f"^{run}$"
        for n in (1, 2, 3):
            for i in range(len(padded) - n + 1):
                gram = padded[i : i + n]
                if gram not in ("^", "$"):
                    found.add("c:" + gram)
    words = _WORD_RE.findall(folded)
    for i, word in enumerate(words):
        found.add("w:" + word)
        if i + 1 < len(words):
            found.add("b:" + word + " " + words[i + 1])
    return sorted(found)


@dataclass(frozen=True)
class Verdict:
    category: str
    probability: float  # p(category)
    cues: tuple[str, ...]  # the features that pushed most towards `category`


class ImpliedModel:
    """A trained model file (see the module docstring for the format's meaning)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"implied model format {data.get('format')!r}, this code reads {FORMAT}")
        self.version = str(data["version"])
        self.classes: tuple[str, ...] = tuple(data["classes"])
        self.intercepts: tuple[float, ...] = tuple(float(b) for b in data["intercepts"])
        self.weights: dict[str, tuple[float, ...]] = {f: tuple(w) for f, w in data["weights"].items()}
        self.threshold = float(data["threshold"])
        self.code = str(data.get("code", "ADLAW_IMPLIED_SUPERLATIVE"))
        self.rule_id = f"learned.implied@{self.version}"
        if OK not in self.classes or len(self.intercepts) != len(self.classes):
            raise ValueError("implied model: classes must include 'ok' and match the intercepts")
        if any(len(w) != len(self.classes) for w in self.weights.values()):
            raise ValueError("implied model: every weight row needs one weight per class")

    @classmethod
    def load(cls, path: Path) -> ImpliedModel:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def probabilities(self, text: str) -> dict[str, float]:
        """Class probabilities of `text`."""
        known = [f for f in features(text) if f in self.weights]
        scale = 1.0 / math.sqrt(len(known)) if known else 0.0
        scores = list(self.intercepts)
        for feature in known:
            for k, weight in enumerate(self.weights[feature]):
                scores[k] += weight * scale
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}

    def predict(self, text: str) -> Verdict | None:
        """A verdict when `text` reads as a violation, else None."""
        probs = self.probabilities(text)
        category = max((c for c in self.classes if c != OK), key=lambda c: (probs[c], c))
        if probs[category] < self.threshold:
            return None
        k = self.classes.index(category)
        known = [f for f in features(text) if f in self.weights]
        ranked = sorted(known, key=lambda f: (-self.weights[f][k], f))
        cues = tuple(f.split(":", 1)[1] for f in ranked[:3] if self.weights[f][k] > 0)
        return Verdict(category, probs[category], cues)


def model_data(
    classes: Sequence[str],
    intercepts: Iterable[float],
    weights: Mapping[str, Sequence[float]],
    threshold: float,
    version: str,
    trained_on: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON document of a model (what the trainer writes), rounded for a stable file."""
    return {
        "format": FORMAT,
        "version": version,
        "classes": list(classes),
        "intercepts": [round(float(b), 5) for b in intercepts],
        "threshold": round(float(threshold), 4),
        "code": "ADLAW_IMPLIED_SUPERLATIVE",
        "trained_on": dict(trained_on),
        "weights": {f: [round(float(x), 5) for x in w] for f, w in sorted(weights.items())},
    }


DEFAULT_MODEL = "models/implied.json"


@lru_cache(maxsize=1)
def default_model() -> ImpliedModel | None:
    """The model shipped in this package, or None when none has been trained into it."""
    resource = resources.files("creativeloop.compliance") / DEFAULT_MODEL
    if not resource.is_file():
        return None
    return ImpliedModel(json.loads(resource.read_text(encoding="utf-8")))
