"""H.264/AAC MP4 writing with PyAV: frames and samples in, MP4 bytes out.

The MP4 is written with `+faststart` (index before the media, so players start before the whole
file arrives), which needs a real file to rewrite: the writer uses a temporary file and returns
its bytes. Audio is interleaved with video as the clip advances, so the muxer never buffers a
whole stream.

>>> import numpy as np
>>> writer = Mp4Writer(64, 48, Fraction(25), preset="ultrafast")
>>> for _ in range(25):
...     writer.write(np.zeros((48, 64, 3), np.uint8))
>>> data = writer.close()
>>> data[4:8]
b'ftyp'
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

#: AAC's frame size: audio is encoded in blocks of this many samples per channel.
_AAC_BLOCK = 1024


class Mp4Writer:
    """One MP4 file: a libx264 yuv420p video stream and, optionally, a stereo AAC stream."""

    def __init__(
        self,
        width: int,
        height: int,
        fps: Fraction,
        *,
        preset: str = "veryfast",
        crf: int = 23,
        audio_rate: int | None = None,
        audio_bitrate: int = 128_000,
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs even sizes, got {width}x{height}")
        fd, name = tempfile.mkstemp(prefix="creativeloop-video-", suffix=".mp4")
        os.close(fd)
        self._path = Path(name)
        self._container: Any = av.open(name, mode="w", format="mp4", options={"movflags": "+faststart"})
        self._video: Any = self._container.add_stream(
            # Small pictures encode faster on one thread (x264's threads cost more than they win).
            "libx264",
            rate=fps,
            options={
                "preset": preset,
                "crf": str(crf),
                "threads": "1" if width * height < 320 * 240 else "2",
            },
        )
        self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
        self._video.codec_context.time_base = Fraction(1) / fps
        self.fps = fps
        self.frames = 0
        self._audio: Any = None
        self._audio_rate = audio_rate or 0
        self._audio_pending = np.zeros((2, 0), np.float32)
        self._audio_written = 0
        if audio_rate:
            self._audio = self._container.add_stream("aac", rate=audio_rate)
            self._audio.layout = "stereo"
            self._audio.bit_rate = audio_bitrate

    @property
    def has_audio(self) -> bool:
        return self._audio is not None

    def write(self, bgr: npt.NDArray[np.uint8]) -> None:
        """Append one frame (uint8 BGR, exactly width x height)."""
        # bgr24, converted by the encoder (swscale): a 4:2:0 frame built from numpy planes leaves
        # the planes' row padding uninitialised, which libx264 reads, so its output would vary.
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        frame.pts = self.frames
        self.frames += 1
        for packet in self._video.encode(frame):
            self._container.mux(packet)

    def write_audio(self, samples: npt.NDArray[np.float32]) -> None:
        """Append stereo float samples [2, n] in -1..1; encoded in AAC-sized blocks as they fill."""
        if self._audio is None:
            return
        self._audio_pending = np.concatenate([self._audio_pending, samples.astype(np.float32)], axis=1)
        while self._audio_pending.shape[1] >= _AAC_BLOCK:
            self._encode_audio(self._audio_pending[:, :_AAC_BLOCK])
            self._audio_pending = self._audio_pending[:, _AAC_BLOCK:]

    def _encode_audio(self, block: npt.NDArray[np.float32]) -> None:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="stereo")
        frame.sample_rate = self._audio_rate
        frame.pts = self._audio_written
        self._audio_written += block.shape[1]
        for packet in self._audio.encode(frame):
            self._container.mux(packet)

    def close(self) -> bytes:
        """Flush both encoders, finish the file and return its bytes."""
        try:
            for packet in self._video.encode():
                self._container.mux(packet)
            if self._audio is not None:
                if self._audio_pending.shape[1]:
                    self._encode_audio(self._audio_pending)
                for packet in self._audio.encode():
                    self._container.mux(packet)
            self._container.close()
            return self._path.read_bytes()
        finally:
            self._path.unlink(missing_ok=True)

    def abort(self) -> None:
        """Drop a half-written file (after an error)."""
        try:
            self._container.close()
        except Exception:  # the file is discarded either way
            pass
        self._path.unlink(missing_ok=True)
