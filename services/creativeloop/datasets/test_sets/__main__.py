"""``python -m creativeloop.datasets.test_sets {export OUT_DIR | check | labels} [--set NAME ...]``.

- ``export``: build the sets and write images, masks and MP4s with a ``labels.jsonl`` per set;
- ``check``: rebuild and compare every record with the committed ``labels/`` (exit 1 on a
  difference; a SHA-1-only difference means the same labels on different pixels, e.g. another
  OpenCV or Pillow build);
- ``labels``: rewrite the committed ``labels/`` from the builders (only after a deliberate change
  to a set, with its reason in the commit message).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from creativeloop.datasets.test_sets import SETS
from creativeloop.datasets.test_sets._registry import committed, dump, records, write_labels


def _export(names: list[str], out: Path) -> int:
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
        print(f"{name}: {len(lines)} records -> {folder} ({time.monotonic() - start:.1f} s)")
    return 0


def _check(names: list[str]) -> int:
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
                    print(f"  {name} {want.get('id')}: labels differ")
            elif want.get("sha1") != got.get("sha1"):
                pixel_diffs += 1
        if len(expected) != len(built):
            label_diffs += 1
            print(f"  {name}: {len(built)} records built, {len(expected)} committed")
        print(f"{name}: {len(built)} records, {label_diffs} label differences, {pixel_diffs} pixel-only ones")
        failed += label_diffs + pixel_diffs
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m creativeloop.datasets.test_sets", description=__doc__)
    parser.add_argument("command", choices=("export", "check", "labels"))
    parser.add_argument("out", nargs="?", type=Path, help="export: the folder to write")
    parser.add_argument("--set", dest="sets", action="append", choices=SETS, help="one set (repeatable)")
    args = parser.parse_args(argv)
    names = args.sets or list(SETS)
    if args.command == "export":
        if args.out is None:
            parser.error("export needs an output folder")
        return _export(names, args.out)
    if args.command == "check":
        return _check(names)
    for name in names:
        print(f"{name}: {write_labels(name)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
