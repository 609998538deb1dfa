"""The soundtrack of a summary: the source's audio for exactly the chosen pieces, re-joined.

Audio is decoded and resampled to 48 kHz stereo float, and only the samples inside the chosen
time ranges are kept. Pieces are joined with the same crossfade as the picture (equal-power),
and the ends get a 5 ms ramp so no cut clicks. Audio that cannot be decoded is dropped (with the
reason), never a reason to reject a video whose pictures are fine.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import av
import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]
RATE = 48_000


def extract(data: bytes, ranges: Sequence[tuple[float, float]], rate: int = RATE) -> list[Samples]:
    """Stereo float32 samples [2, n] for each (start_s, end_s) range; ValueError if undecodable.

    Each piece has exactly round((end - start) * rate) samples (silence where the track is short).
    """
    pieces = [np.zeros((2, max(0, round((end - start) * rate))), np.float32) for start, end in ranges]
    if not ranges:
        return pieces
    last = max(end for _, end in ranges)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
            position: int | None = None
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    continue  # one damaged packet costs a few ms of sound, not the soundtrack
                for frame in frames:
                    if position is None:
                        position = round((frame.time or 0.0) * rate)
                    for chunk in resampler.resample(frame):
                        samples = chunk.to_ndarray().reshape(2, -1).astype(np.float32)
                        _copy_into(pieces, ranges, rate, position, samples)
                        position += samples.shape[1]
                if position is not None and position / rate > last:
                    break
            if position is None:
                raise ValueError("no decodable audio")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise ValueError(f"audio not decodable: {exc}") from exc
    return pieces


def _copy_into(
    pieces: list[Samples], ranges: Sequence[tuple[float, float]], rate: int, position: int, samples: Samples
) -> None:
    end = position + samples.shape[1]
    for piece, (start_s, _) in zip(pieces, ranges, strict=True):
        first = round(start_s * rate)
        lo, hi = max(position, first), min(end, first + piece.shape[1])
        if lo < hi:
            piece[:, lo - first : hi - first] = samples[:, lo - position : hi - position]


def join(pieces: Sequence[Samples], overlap: int, rate: int = RATE) -> Samples:
    """Concatenate with an equal-power crossfade of `overlap` samples between neighbours."""
    ramp = max(1, rate // 200)
    faded = []
    for piece in pieces:
        piece = piece.copy()
        n = min(ramp, piece.shape[1] // 2)
        if n:
            piece[:, :n] *= np.linspace(0, 1, n, dtype=np.float32)
            piece[:, -n:] *= np.linspace(1, 0, n, dtype=np.float32)
        faded.append(piece)
    if not faded:
        return np.zeros((2, 0), np.float32)
    out = faded[0]
    for piece in faded[1:]:
        k = min(overlap, out.shape[1], piece.shape[1])
        if k <= 0:
            out = np.concatenate([out, piece], axis=1)
            continue
        t = np.linspace(0, np.pi / 2, k, dtype=np.float32)
        mixed = out[:, -k:] * np.cos(t) + piece[:, :k] * np.sin(t)
        out = np.concatenate([out[:, :-k], mixed, piece[:, k:]], axis=1)
    return np.clip(out, -1.0, 1.0).astype(np.float32)
