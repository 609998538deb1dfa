"""Train the ad-law checker's learned component: `creativeloop train adlaw-implied`.

Data: `creativeloop.datasets.ad_claims.training_phrases` (template violations by law category,
lawful-copy templates, review sentences the rules leave alone, and the hand-written tuning
phrases); never the test phrase set. Model: multinomial logistic regression (scikit-learn,
lbfgs, deterministic) over the binary n-gram features of
`creativeloop.compliance.implied.features`, L2-normalised over the model's
vocabulary (features seen in at least two phrases); a second fit keeps only the features whose
largest weight matters (|w| >= `PRUNE`), so the shipped file stays small and serving normalises
over exactly the vocabulary it was trained on.

Score: the probability of the most likely violation category (a sentence the model cannot place
under one law is not flagged). Threshold: the smallest value at which, in 5-fold
cross-validation (out-of-fold probabilities), at most `MAX_REVIEWS_FLAGGED` of the review
sentences and at most `MAX_WRITTEN_FLAGGED` of the hand-written lawful phrases (lawful templates
and tuning phrases) are flagged, and never below `MIN_THRESHOLD` (a majority): the component is
meant to add implied claims without adding false alarms. The same data directory and seed give
the same file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from creativeloop.compliance.checker import analyse
from creativeloop.compliance.implied import OK, features, model_data
from creativeloop.datasets.ad_claims import SEED, TUNING_FILE, label_counts, training_phrases

#: Inverse regularisation strength (chosen by cross-validated log-loss among 0.5/1/2/4/8).
C = 4.0
#: Features whose weights all stay under this are dropped before the final fit.
PRUNE = 0.05
#: Largest shares of lawful review sentences / hand-written lawful phrases the threshold may flag
#: out of fold.
MAX_REVIEWS_FLAGGED = 0.01
MAX_WRITTEN_FLAGGED = 0.02
MIN_THRESHOLD = 0.5
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "compliance" / "models" / "implied.json"

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrainReport:
    rows: int
    counts: dict[str, int]
    vocabulary: int
    threshold: float
    oof_ok_flagged: float  # share of lawful phrases flagged out of fold at the threshold
    oof_recall: float  # share of violations flagged out of fold at the threshold
    oof_category_right: float  # of those, share with the right category
    oof_tuning_implicit_recall: float  # share of the tuning set's implicit violations flagged out of fold
    oof_tuning_ok_flagged: float  # share of the tuning set's lawful phrases flagged out of fold
    out: str

    def format(self) -> str:
        return "\n".join(
            [
                f"{self.rows} training phrases ({', '.join(f'{k} {v}' for k, v in self.counts.items())})",
                f"vocabulary {self.vocabulary} features, threshold p(category) >= {self.threshold:.3f}",
                f"5-fold out of fold: lawful flagged {self.oof_ok_flagged:.3f}, violations found "
                f"{self.oof_recall:.3f}, right category {self.oof_category_right:.3f}; tuning phrases: "
                f"implicit found {self.oof_tuning_implicit_recall:.3f}, "
                f"lawful flagged {self.oof_tuning_ok_flagged:.3f}",
                f"written to {self.out}",
            ]
        )


def _matrix(feature_sets: Sequence[Sequence[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    rows, cols, values = [], [], []
    for i, found in enumerate(feature_sets):
        known = [vocabulary[f] for f in found if f in vocabulary]
        scale = 1.0 / math.sqrt(len(known)) if known else 0.0
        for j in known:
            rows.append(i)
            cols.append(j)
            values.append(scale)
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(feature_sets), len(vocabulary)))


def _vocabulary(feature_sets: Sequence[Sequence[str]], min_df: int = 2) -> dict[str, int]:
    df: dict[str, int] = {}
    for found in feature_sets:
        for f in found:
            df[f] = df.get(f, 0) + 1
    return {f: i for i, f in enumerate(sorted(f for f, n in df.items() if n >= min_df))}


def _fit(x: sparse.csr_matrix, y: npt.NDArray[np.int64]) -> LogisticRegression:
    model = LogisticRegression(C=C, max_iter=3000, tol=1e-6)
    model.fit(x, y)
    return model


def _at_most(scores: Floats, share: float) -> float:
    """Smallest threshold that flags at most `share` of `scores`."""
    ranked = np.sort(scores)[::-1]
    allowed = math.floor(share * len(ranked))
    return float(ranked[allowed] + 1e-6) if allowed < len(ranked) else 0.0


def _threshold(
    p_violation: Floats, reviews: npt.NDArray[np.bool_], written_ok: npt.NDArray[np.bool_]
) -> float:
    return max(
        MIN_THRESHOLD,
        _at_most(p_violation[reviews], MAX_REVIEWS_FLAGGED),
        _at_most(p_violation[written_ok], MAX_WRITTEN_FLAGGED),
    )


def train(data_dir: Path, out: Path = DEFAULT_OUT, *, seed: int = SEED) -> TrainReport:
    """Build the training phrases, fit, choose the threshold out of fold, write `out`."""

    def flagged(text: str, language: str) -> bool:
        return bool(analyse(text, language=language, implied=False).violations)

    rows = training_phrases(data_dir, flagged, seed=seed)
    classes = [OK, *sorted({row[0] for row in rows} - {OK})]
    y = np.array([classes.index(row[0]) for row in rows], dtype=np.int64)
    feature_sets = [features(row[2]) for row in rows]
    source = np.array([row[3] for row in rows])
    implicit = {(label, text) for label, _, text, _ in rows if label != OK} & {
        (label, text) for label, text in _implicit_tuning()
    }
    is_implicit = np.array([(row[0], row[2]) in implicit and row[3] == "tuning" for row in rows])

    vocabulary = _vocabulary(feature_sets)
    first = _fit(_matrix(feature_sets, vocabulary), y)
    keep = np.abs(first.coef_).max(axis=0) >= PRUNE
    names = sorted(vocabulary, key=vocabulary.__getitem__)
    vocabulary = {f: i for i, f in enumerate(f for f, k in zip(names, keep, strict=True) if k)}
    x = _matrix(feature_sets, vocabulary)

    oof = np.zeros((len(rows), len(classes)))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    for train_idx, test_idx in folds.split(x, y):
        fold_model = _fit(x[train_idx], y[train_idx])
        oof[test_idx] = fold_model.predict_proba(x[test_idx])
    p_violation = oof[:, 1:].max(axis=1)  # the most likely violation category's probability
    is_ok = y == 0
    threshold = _threshold(p_violation, is_ok & (source == "review"), is_ok & (source != "review"))
    flagged_oof = p_violation >= threshold
    found = flagged_oof & ~is_ok
    right = found & (oof[:, 1:].argmax(axis=1) + 1 == y)

    model = _fit(x, y)
    weights = {f: model.coef_[:, i].tolist() for f, i in vocabulary.items()}
    counts = label_counts(rows)
    data = model_data(
        classes,
        model.intercept_.tolist(),
        weights,
        threshold,
        version=f"{seed}-{len(rows)}-{len(vocabulary)}",
        trained_on={"rows": len(rows), "counts": counts, "seed": seed, "C": C, "prune": PRUNE},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n", "utf-8"
    )
    return TrainReport(
        rows=len(rows),
        counts=counts,
        vocabulary=len(vocabulary),
        threshold=threshold,
        oof_ok_flagged=float(flagged_oof[is_ok].mean()),
        oof_recall=float(found.sum() / max(1, (~is_ok).sum())),
        oof_category_right=float(right.sum() / max(1, found.sum())),
        oof_tuning_implicit_recall=float(flagged_oof[is_implicit].mean()) if is_implicit.any() else 0.0,
        oof_tuning_ok_flagged=float(flagged_oof[is_ok & (source == "tuning")].mean()),
        out=str(out),
    )


def _implicit_tuning() -> list[tuple[str, str]]:
    """(label, text) of the tuning phrases whose note says kind=implicit."""
    text = (resources.files("creativeloop.datasets") / TUNING_FILE).read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            label, _language, phrase, note = line.split("\t")
            if "kind=implicit" in note:
                out.append((label, phrase))
    return out


def report_dict(report: TrainReport) -> dict[str, object]:
    return asdict(report)
