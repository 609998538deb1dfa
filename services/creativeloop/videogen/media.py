"""Open, check and decode input videos with PyAV (FFmpeg), rejecting bad input with a reason.

Everything that can be checked from the container header (no video stream, zero or enormous
resolution, too long, absurd frame rate) is checked before a single frame is decoded; what only
decoding reveals (corrupt or truncated data) is checked while decoding. Either way the caller
gets `VideoRejected` with a reason fit for an INVALID_ARGUMENT status or a dead letter.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

#: A decoded picture: uint8 BGR, height x width x 3 (OpenCV's layout).
Frame = npt.NDArray[Any]
#: Containers FFmpeg opens that hold still images, not videos.
_IMAGE_FORMATS = frozenset({"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "bmp_pipe", "tiff_pipe"})
_I420 = frozenset({"yuv420p", "yuvj420p"})
#: Share of the frames a header promises that must decode, else the file is truncated.
_TRUNCATION_SHARE = 0.9


class VideoRejected(ValueError):
    """Input that cannot be used as a video; `reason` says why (for clients and dead letters)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int = 256 * 1024 * 1024
    max_pixels: int = 3840 * 2160
    max_duration_s: float = 600.0
    min_duration_s: float = 0.5
    max_fps: float = 120.0


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says about a video (frames is an estimate until decoded)."""

    width: int
    height: int
    fps: Fraction
    duration_s: float
    frames: int
    codec: str
    container: str
    has_audio: bool
    audio_codec: str = ""
    #: Presentation time of the first video frame, seconds (audio is aligned to it).
    start_s: float = 0.0
    #: `frames` is the container's own count (MP4, MOV), not an estimate from the duration.
    frames_counted: bool = False

    @property
    def aspect(self) -> float:
        return self.width / self.height


def _open(data: bytes) -> Any:
    try:
        return av.open(io.BytesIO(data), mode="r", options={"probesize": "5000000"})
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise VideoRejected(f"undecodable video: {exc}") from exc


def _rate(stream: Any) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return Fraction(rate)
    return Fraction(0)


def probe(data: bytes, limits: VideoLimits) -> VideoInfo:
    """Header checks only; raises VideoRejected for empty, enormous, too long or unsupported input."""
    if not data:
        raise VideoRejected("empty video (0 bytes)")
    if len(data) > limits.max_bytes:
        raise VideoRejected(f"video is {len(data)} bytes, limit {limits.max_bytes}")
    with _open(data) as container:
        if container.format.name in _IMAGE_FORMATS or container.format.name.endswith("_pipe"):
            raise VideoRejected(f"unsupported input: {container.format.name} is a still image, not a video")
        if not container.streams.video:
            raise VideoRejected(f"unsupported input: no video stream in {container.format.name}")
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        if width <= 0 or height <= 0:
            raise VideoRejected(f"video has no frame size ({width}x{height})")
        if width * height > limits.max_pixels:
            raise VideoRejected(
                f"video is {width}x{height} pixels, limit {limits.max_pixels} pixels per frame"
            )
        fps = _rate(stream)
        if fps <= 0:
            raise VideoRejected("video has no frame rate")
        if fps > limits.max_fps:
            raise VideoRejected(f"video frame rate {float(fps):.1f} above the limit {limits.max_fps}")
        duration = _duration(container, stream)
        if duration > limits.max_duration_s:
            raise VideoRejected(f"video is {duration:.1f} s long, limit {limits.max_duration_s} s")
        frames = int(stream.frames) or round(duration * fps)
        if duration < limits.min_duration_s and frames < max(2, round(limits.min_duration_s * fps)):
            raise VideoRejected(f"video is {duration:.2f} s long, shorter than {limits.min_duration_s} s")
        audio = container.streams.audio
        return VideoInfo(
            width=width,
            height=height,
            fps=fps,
            duration_s=duration,
            frames=frames,
            codec=stream.codec_context.name,
            container=container.format.name,
            has_audio=bool(audio),
            audio_codec=audio[0].codec_context.name if audio else "",
            start_s=float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0,
            frames_counted=bool(stream.frames),
        )


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    if stream.frames:
        return float(stream.frames / _rate(stream))
    return 0.0


def analysis_size(info: VideoInfo, width: int) -> tuple[int, int]:
    """Even (width, height) at most `width` wide, aspect ratio kept."""
    width = min(width, info.width)
    height = max(2, round(width * info.height / info.width / 2) * 2)
    return max(2, width // 2 * 2), height


def _is_i420(frame: Any) -> bool:
    return frame.format.name in _I420 and int(frame.width) % 2 == 0 and int(frame.height) % 2 == 0


def to_bgr(frame: Any, size: tuple[int, int] | None = None, planes: Frame | None = None) -> Frame:
    """A decoded frame as BGR pixels, scaled to `size` (width, height) when given.

    For 4:2:0 frames (nearly every H.264/MPEG-4 file) the planes (`planes`, when already
    extracted) are scaled and converted with OpenCV, four times faster than FFmpeg's swscale to
    bgr24; anything else goes through swscale.
    """
    width, height = int(frame.width), int(frame.height)
    if _is_i420(frame):
        planes = frame.to_ndarray() if planes is None else planes
        if size is None or size == (width, height):
            return np.asarray(cv2.cvtColor(planes, cv2.COLOR_YUV2BGR_I420))
        return np.asarray(cv2.cvtColor(_scale_i420(planes, (width, height), size), cv2.COLOR_YUV2BGR_I420))
    if size is None:
        return np.asarray(frame.to_ndarray(format="bgr24"))
    return np.asarray(frame.to_ndarray(format="bgr24", width=size[0], height=size[1]))


class FrameCache:
    """Decoded frames kept for rendering, so a summary decodes its source once.

    Frames are kept as the decoder gives them (4:2:0 planes, 1.5 bytes per pixel, else BGR),
    scaled down to `scale` of the source (the most the render will need: its output is rarely
    as sharp as the source), up to `limit_bytes`; past that the cache is dropped (`complete`
    turns False) and the render decodes the source again.

    >>> cache = FrameCache((64, 36), 0.5, limit_bytes=10_000)
    >>> cache.size, cache.frame_bytes
    ((32, 18), 864)
    """

    def __init__(self, source: tuple[int, int], scale: float, limit_bytes: int) -> None:
        scale = min(1.0, max(scale, 1e-3))
        width, height = source
        self.scale = scale
        self.size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
        self.frame_bytes = self.size[0] * self.size[1] * 3 // 2
        self.limit_bytes = limit_bytes
        self.complete = limit_bytes >= self.frame_bytes
        self._frames: list[Frame] = []
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def add(self, frame: Any, planes: Frame | None = None) -> None:
        """Keep one decoded `av.VideoFrame` (in order; `planes`: its 4:2:0 planes, when already
        extracted), unless the cache is already dropped."""
        if not self.complete:
            return
        width, height = int(frame.width), int(frame.height)
        if frame.format.name in _I420 and width % 2 == 0 and height % 2 == 0:
            planes = frame.to_ndarray() if planes is None else planes
            if (width, height) != self.size:
                planes = _scale_i420(planes, (width, height), self.size)
            kept = np.ascontiguousarray(planes)
        else:
            kept = to_bgr(frame, self.size)
        self._bytes += kept.nbytes
        if self._bytes > self.limit_bytes:
            self.drop()
            return
        self._frames.append(kept)

    def drop(self) -> None:
        self.complete = False
        self._frames = []
        self._bytes = 0

    def get(self, index: int) -> Frame:
        """Frame `index` as BGR at `size`."""
        kept = self._frames[index]
        if kept.ndim == 2:
            return np.asarray(cv2.cvtColor(kept, cv2.COLOR_YUV2BGR_I420))
        return kept

    def crop(self, index: int, x: int, y: int, width: int, height: int) -> Frame:
        """The `width` x `height` window at (x, y) of frame `index` (cache pixels) as BGR, the same
        pixels as `get(index)[y : y + height, x : x + width]`; only the window is converted."""
        kept = self._frames[index]
        if kept.ndim == 3:
            return kept[y : y + height, x : x + width]
        full_w, full_h = self.size
        # The 4:2:0 window around it, on even coordinates (one chroma sample per 2x2 pixels).
        x0, y0 = x // 2 * 2, y // 2 * 2
        x1, y1 = min(full_w, (x + width + 1) // 2 * 2), min(full_h, (y + height + 1) // 2 * 2)
        luma = kept[:full_h]
        chroma = kept[full_h:].reshape(2, full_h // 2, full_w // 2)
        planes = np.concatenate(
            [
                luma[y0:y1, x0:x1].ravel(),
                chroma[0, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2].ravel(),
                chroma[1, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2].ravel(),
            ]
        ).reshape((y1 - y0) * 3 // 2, x1 - x0)
        bgr = cv2.cvtColor(planes, cv2.COLOR_YUV2BGR_I420)
        return np.asarray(bgr[y - y0 : y - y0 + height, x - x0 : x - x0 + width])


def _scale_i420(planes: Frame, size: tuple[int, int], out: tuple[int, int]) -> Frame:
    """4:2:0 planes (height * 3/2 rows) of a `size` picture, scaled to `out` (area average)."""
    width, height = size
    out_w, out_h = out
    luma = cv2.resize(planes[:height], (out_w, out_h), interpolation=cv2.INTER_AREA)
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    u = cv2.resize(chroma[0], (out_w // 2, out_h // 2), interpolation=cv2.INTER_AREA)
    v = cv2.resize(chroma[1], (out_w // 2, out_h // 2), interpolation=cv2.INTER_AREA)
    return np.concatenate([luma.ravel(), u.ravel(), v.ravel()]).reshape(out_h * 3 // 2, out_w)


def decode_frames(
    data: bytes,
    info: VideoInfo,
    limits: VideoLimits,
    size: tuple[int, int] | None = None,
    *,
    wanted: npt.NDArray[np.bool_] | None = None,
    cache: FrameCache | None = None,
) -> Iterator[tuple[int, Frame | None]]:
    """Yield (index, BGR frame) for every decoded frame, in presentation order.

    `size` scales while converting (one swscale call); `wanted[i]` False yields None for frame i
    without converting it (decoding is sequential either way); `cache` keeps every decoded frame
    for a later render. Raises VideoRejected for corrupt or truncated data and for more frames
    than the duration limit allows.
    """
    max_frames = int(limits.max_duration_s * float(info.fps) * 1.05) + 2
    index = -1
    with _open(data) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                index += 1
                if index >= max_frames:
                    raise VideoRejected(
                        f"video has more than {max_frames} frames, limit {limits.max_duration_s} s"
                    )
                planes = None
                if cache is not None:
                    planes = frame.to_ndarray() if _is_i420(frame) else None  # extracted once for both
                    cache.add(frame, planes)
                if wanted is not None:
                    if index >= len(wanted):
                        return  # past the last wanted frame: stop decoding
                    if not wanted[index]:
                        yield index, None
                        continue
                yield index, to_bgr(frame, size, planes)
        except av.error.FFmpegError as exc:
            raise VideoRejected(f"corrupt video data after frame {index}: {exc}") from exc
    if index < 0:
        raise VideoRejected("video has no decodable frames")
    # Without the container's own count, the estimate from the duration may include a longer
    # audio track: only a large shortfall is taken for truncation then.
    share = _TRUNCATION_SHARE if info.frames_counted else 0.5
    if wanted is None and info.frames > 0 and index + 1 < share * info.frames:
        raise VideoRejected(f"truncated video: decoded {index + 1} of {info.frames} frames")
