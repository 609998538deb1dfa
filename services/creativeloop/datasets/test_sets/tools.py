"""Export the test sets, check them against their committed labels, or rewrite the labels.

- export: build the sets and write images, masks and MP4s with a ``labels.jsonl`` per set;
- check: rebuild and compare every record with the committed ``labels/`` (a difference in the
  SHA-1 only means the same labels on different pixels, e.g. another OpenCV or Pillow build);
- labels: rewrite the committed ``labels/`` from the builders (only after a deliberate change
  to a set, with its reason in the commit message).

`creativeloop data test-sets export|check|labels` runs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from creativeloop.datasets.test_sets._registry import committed, dump, records


def export_sets(names: list[str], out: Path, say: Callable[[str], None] = print) -> int:
    """Build the sets and write their files and a labels.jsonl per set under `out`."""
    for name in names:
        start = time.monotonic()
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for record in records(name, files=True):
            for file, data in record.files.items():
                (folder / file).write_bytes(data)
            lines.append(dump(record.label))
        (folder / "labels.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        say(f"{name}: {len(lines)} records -> {folder} ({time.monotonic() - start:.1f} s)")
    return 0


def check_sets(names: list[str], say: Callable[[str], None] = print) -> int:
    """Rebuild and compare with the committed labels; 1 on any difference (printed), else 0."""
    failed = 0
    for name in names:
        expected = committed(name)
        built = [r.label for r in records(name)]
        label_diffs = pixel_diffs = 0
        for want, got in zip(expected, built, strict=False):
            if {k: v for k, v in want.items() if k != "sha1"} != {
                k: v for k, v in got.items() if k != "sha1"
            }:
                label_diffs += 1
                if label_diffs <= 3:
                    say(f"  {name} {want.get('id')}: labels differ")
            elif want.get("sha1") != got.get("sha1"):
                pixel_diffs += 1
        if len(expected) != len(built):
            label_diffs += 1
            say(f"  {name}: {len(built)} records built, {len(expected)} committed")
        say(f"{name}: {len(built)} records, {label_diffs} label differences, {pixel_diffs} pixel-only ones")
        failed += label_diffs + pixel_diffs
    return 1 if failed else 0
