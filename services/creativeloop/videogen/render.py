"""Render a summary: the chosen pieces, cropped to the slot, crossfaded, overlaid, as H.264 MP4.

The source is decoded a second time at full resolution, converting only the frames inside the
chosen pieces. Each frame is cropped along the piece's crop path and scaled to the output size;
the last `crossfade` frames of a piece are held back and blended with the first ones of the next.
The soundtrack (if kept) is cut to the same pieces and interleaved as the picture advances. The
poster is the output frame showing the best-scoring sampled frame, as JPEG.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.kit.logs import get_logger
from creativeloop.videogen import audio
from creativeloop.videogen.crop import crop_path
from creativeloop.videogen.encode import Mp4Writer
from creativeloop.videogen.media import Frame, FrameCache, VideoInfo, VideoLimits, decode_frames
from creativeloop.videogen.overlay import Overlay
from creativeloop.videogen.selection import Clip, summary_frames

log = get_logger(__name__)


@dataclass(frozen=True)
class RenderOptions:
    size: tuple[int, int]
    window: tuple[int, int]
    crossfade: int = 5
    smoothing_s: float = 0.6
    preset: str = "veryfast"
    crf: int = 23
    keep_audio: bool = True
    audio_bitrate: int = 128_000
    poster_quality: int = 88


@dataclass
class RenderedClip:
    video: bytes
    poster: bytes
    width: int
    height: int
    frames: int
    fps: Fraction
    has_audio: bool
    notes: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.frames / float(self.fps)


def encode_jpeg(frame: Frame, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the poster")
    return bytes(buffer.tobytes())


def _soundtrack(
    data: bytes, info: VideoInfo, clips: Sequence[Clip], crossfade: int, total_frames: int, notes: list[str]
) -> npt.NDArray[np.float32] | None:
    fps = float(info.fps)
    ranges = [(info.start_s + c.start / fps, info.start_s + c.end / fps) for c in clips]
    try:
        pieces = audio.extract(data, ranges)
    except ValueError as exc:
        notes.append(f"audio dropped: {exc}")
        log.warning("audio dropped", reason=str(exc))
        return None
    track = audio.join(pieces, round(crossfade / fps * audio.RATE))
    wanted = round(total_frames / fps * audio.RATE)
    if track.shape[1] < wanted:
        track = np.concatenate([track, np.zeros((2, wanted - track.shape[1]), np.float32)], axis=1)
    return track[:, :wanted]


class _Piece:
    """Where one clip's frames go: crop corners per source frame."""

    def __init__(self, clip: Clip, corners: npt.NDArray[np.int64]) -> None:
        self.clip = clip
        self.corners = corners


def render_clips(
    data: bytes,
    info: VideoInfo,
    limits: VideoLimits,
    clips: Sequence[Clip],
    centres: dict[int, list[tuple[int, float, float]]],
    options: RenderOptions,
    overlay: Overlay | None = None,
    poster_source_frame: int | None = None,
    cache: FrameCache | None = None,
) -> RenderedClip:
    """Encode `clips` (story order) of the source `data`; `centres[shot]` drive the crop.

    The frames come from `cache` when it holds them all (the analysis pass kept them: the source
    is decoded once), else from a second decode of `data`."""
    if not clips:
        raise ValueError("nothing to render")
    fps = float(info.fps)
    crossfade = options.crossfade if len(clips) > 1 else 0  # the plan's crossfade
    total = summary_frames(clips, crossfade)
    notes: list[str] = []
    track = (
        _soundtrack(data, info, clips, crossfade, total, notes)
        if options.keep_audio and info.has_audio
        else None
    )
    width, height = options.size
    writer = Mp4Writer(
        width,
        height,
        info.fps,
        preset=options.preset,
        crf=options.crf,
        audio_rate=audio.RATE if track is not None else None,
        audio_bitrate=options.audio_bitrate,
    )
    pieces = [
        _Piece(
            clip,
            crop_path(
                clip.start,
                clip.end,
                centres.get(clip.shot, []),
                (info.width, info.height),
                options.window,
                fps,
                options.smoothing_s,
            ),
        )
        for clip in clips
    ]
    wanted = np.zeros(max(c.end for c in clips), bool)
    for clip in clips:
        wanted[clip.start : clip.end] = True
    state = _Compositor(writer, overlay, crossfade, track, fps)
    poster: Frame | None = None
    scale = 1.0
    frames: Iterator[tuple[int, Frame | None]]
    cached = cache is not None and cache.complete and len(cache) >= len(wanted)
    if cache is not None and cached:
        scale = cache.scale
        frames = ((i, None) for i in range(len(wanted)))  # windows are cut from the cache below
    else:
        frames = decode_frames(data, info, limits, None, wanted=wanted)
    window = options.window
    if scale < 1.0:  # the cached frames are smaller than the source: so is the window
        window = (max(2, round(window[0] * scale)), max(2, round(window[1] * scale)))
    try:
        piece_index = 0
        for index, frame in frames:
            if frame is None and not (cached and wanted[index]):
                continue
            while piece_index < len(pieces) and index >= pieces[piece_index].clip.end:
                state.end_piece(pieces[piece_index].clip.frames, piece_index == len(pieces) - 1)
                piece_index += 1
            if piece_index >= len(pieces):
                break
            piece = pieces[piece_index]
            if index < piece.clip.start:
                continue
            x, y = piece.corners[index - piece.clip.start]
            if cache is not None and cached:
                if scale < 1.0:
                    x = min(round(x * scale), cache.size[0] - window[0])
                    y = min(round(y * scale), cache.size[1] - window[1])
                crop = cache.crop(index, x, y, window[0], window[1])  # converts the window only
            else:
                assert frame is not None
                crop = frame[y : y + window[1], x : x + window[0]]
            out = cv2.resize(crop, options.size, interpolation=cv2.INTER_AREA)
            if index == poster_source_frame:
                poster = out.copy()
            state.add(out, piece_index == len(pieces) - 1)
        while piece_index < len(pieces):
            state.end_piece(pieces[piece_index].clip.frames, piece_index == len(pieces) - 1)
            piece_index += 1
        state.finish(total)
        if poster is None:
            poster = state.first_frame
        elif overlay is not None:
            poster = overlay.apply(poster)
        video = writer.close()
    except BaseException:
        writer.abort()
        raise
    assert poster is not None
    return RenderedClip(
        video=video,
        poster=encode_jpeg(poster, options.poster_quality),
        width=width,
        height=height,
        frames=writer.frames,
        fps=info.fps,
        has_audio=track is not None,
        notes=notes,
    )


class _Compositor:
    """Writes frames, holding each piece's last `crossfade` frames to blend into the next piece."""

    def __init__(
        self,
        writer: Mp4Writer,
        overlay: Overlay | None,
        crossfade: int,
        track: npt.NDArray[np.float32] | None,
        fps: float,
    ) -> None:
        self.writer = writer
        self.overlay = overlay
        self.crossfade = crossfade
        self.track = track
        self.fps = fps
        self.held: list[Frame] = []  # tail of the previous piece, waiting to be blended
        self.buffer: list[Frame] = []  # frames of the current piece not yet written
        self.in_piece = 0
        self.audio_written = 0
        self.first_frame: Frame | None = None
        self.last_frame: Frame | None = None

    def _emit(self, frame: Frame) -> None:
        self.last_frame = frame.copy()  # before the overlay: padding repeats it
        if self.overlay is not None:
            frame = self.overlay.apply(frame)
        self.writer.write(frame)
        if self.first_frame is None:
            self.first_frame = frame.copy()
        if self.track is not None:
            until = min(self.track.shape[1], round(self.writer.frames / self.fps * audio.RATE))
            if until > self.audio_written:
                self.writer.write_audio(self.track[:, self.audio_written : until])
                self.audio_written = until

    def add(self, frame: Frame, last_piece: bool) -> None:
        """One frame of the current piece: written now, or held back for the next crossfade."""
        position = self.in_piece
        self.in_piece += 1
        if position < len(self.held):  # blend with the previous piece's tail
            alpha = (position + 1) / (len(self.held) + 1)
            frame = cv2.addWeighted(self.held[position], 1 - alpha, frame, alpha, 0)
            if position == len(self.held) - 1:
                self.held = []
            self._emit(frame)
            return
        if last_piece or self.crossfade == 0:
            self._emit(frame)
            return
        self.buffer.append(frame)
        if len(self.buffer) > self.crossfade:
            self._emit(self.buffer.pop(0))

    def end_piece(self, expected: int, last_piece: bool) -> None:
        """Pad a piece that decoded short (variable frame rate, short tail), then hold its tail."""
        source = self.buffer[-1] if self.buffer else self.last_frame
        while self.in_piece < expected and source is not None:
            self.add(source.copy(), last_piece)
        self.held, self.buffer, self.in_piece = self.buffer, [], 0

    def finish(self, total: int) -> None:
        for frame in self.held:
            self._emit(frame)
        self.held = []
        while self.writer.frames < total and self.last_frame is not None:
            self._emit(self.last_frame.copy())
