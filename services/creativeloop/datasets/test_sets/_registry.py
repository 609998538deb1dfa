"""One interface over the five sets: label records (with a SHA-1 of the pixels) and the files an
export writes, and the committed label files under ``labels/``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from creativeloop.datasets.test_sets import SETS
from creativeloop.datasets.test_sets._media import Image, encode_png

LABELS_DIR = Path(__file__).resolve().parent / "labels"


@dataclass
class Record:
    label: dict[str, Any]
    #: File name -> a callable's result, produced only when exporting.
    files: dict[str, bytes] = field(default_factory=dict)


def sha1(*arrays: Image) -> str:
    digest = hashlib.sha1()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _mask_png(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> bytes:
    return encode_png((mask.astype(np.uint8) * 255).astype(np.uint8))


def records(name: str, *, files: bool = False, indices: Iterable[int] | None = None) -> Iterator[Record]:
    """The set's label records in order (`indices` of its cases), with files when exporting."""
    if name == "product_boxes":
        from creativeloop.datasets.test_sets import product_boxes

        for pb in product_boxes.build(indices):
            label = {**pb.label(), "sha1": sha1(pb.image, pb.mask.astype(np.uint8))}
            out = {}
            if files:
                out = {
                    f"{pb.case_id}.png": encode_png(pb.image),
                    f"{pb.case_id}_mask.png": _mask_png(pb.mask),
                    f"{pb.case_id}_visible.png": _mask_png(pb.visible_mask),
                }
            yield Record(label, out)
    elif name == "scenes":
        from creativeloop.datasets.test_sets import scenes

        for sc in scenes.build(indices):
            yield Record(
                {**sc.to_label(), "sha1": sha1(sc.image)},
                {f"{sc.case_id}.png": encode_png(sc.image)} if files else {},
            )
    elif name == "aesthetics":
        from creativeloop.datasets.test_sets import aesthetics

        photos = list(range(len(aesthetics.PHOTOS)) if indices is None else indices)
        for index in photos:
            p = aesthetics.original(index)
            label = {
                "id": p.photo_id,
                "photo": p.photo_id,
                "kind": "original",
                "level": 0,
                "source": p.source,
                "subject": list(p.subject),
                "width": int(p.image.shape[1]),
                "height": int(p.image.shape[0]),
                "sha1": sha1(p.image),
            }
            yield Record(label, {f"{p.photo_id}.png": encode_png(p.image)} if files else {})
            for case in aesthetics.iter_cases([index]):
                yield Record(
                    {**case.to_label(), "sha1": sha1(case.image)},
                    {f"{case.case_id}.png": encode_png(case.image)} if files else {},
                )
    elif name == "ocr":
        from creativeloop.datasets.test_sets import ocr

        for oc in ocr.build(indices):
            yield Record(
                {**oc.to_label(), "sha1": sha1(oc.image)},
                {f"{oc.case_id}.png": encode_png(oc.image)} if files else {},
            )
    elif name == "shots":
        from creativeloop.datasets.test_sets import shots

        for clip in shots.iter_cases(indices):
            yield Record(
                {**clip.to_label(), "sha1": sha1(*clip.frames)},
                {f"{clip.case_id}.mp4": clip.encode()} if files else {},
            )
    else:
        raise ValueError(f"unknown set {name!r}; one of {SETS}")


def label_path(name: str) -> Path:
    return LABELS_DIR / f"{name}.jsonl"


def dump(label: dict[str, Any]) -> str:
    return json.dumps(label, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def committed(name: str) -> list[dict[str, Any]]:
    """The committed labels of one set, in order."""
    with label_path(name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_labels(name: str) -> int:
    lines = [dump(r.label) for r in records(name)]
    LABELS_DIR.mkdir(parents=True, exist_ok=True)
    label_path(name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)
