"""Settings of the video generation service (prefix CREATIVELOOP_VIDEOGEN_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from creativeloop.kit.settings import ServiceSettings

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")

HardCutDetector = Literal["adaptive", "content", "histogram", "none"]


class VideogenSettings(ServiceSettings):
    """Video generation service: shot detection, scoring weights, budgets, rendering and limits."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_VIDEOGEN_", extra="ignore")

    grpc_port: int = Field(50056, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    metrics_port: int = Field(9106, ge=0, le=65535, description="Port of `/metrics`.")
    max_message_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest gRPC request or response (inline videos), in bytes."
    )

    # --- stream stage
    budgets_s: list[float] = Field(
        [6.0, 15.0], description="Clip lengths (seconds) rendered per product video on the stream."
    )
    aspects: list[str] = Field(
        ["9:16", "1:1"], description="Slot aspect ratios (W:H) rendered per product video on the stream."
    )
    animate_images: bool = Field(
        False,
        description="Products with images but no video get a short Ken Burns clip per aspect "
        "(off by default: it renders a clip for every image-only product on the stream).",
    )
    animation_s: float = Field(6.0, gt=0, le=60, description="Length of an image-to-video clip, seconds.")
    animation_max_images: int = Field(4, ge=1, le=20, description="Most product images in one animated clip.")
    overlay_title: bool = Field(True, description="Draw the product title and price over stream clips.")
    max_concurrent_jobs: int = Field(
        1, ge=1, le=64, description="Videos processed at once (RPCs and stream); each uses ~2 cores."
    )
    max_attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="Attempts per profile whose handler fails unexpectedly, before dead-lettering "
        "(the model backend or the broker being down pauses the stream instead).",
    )
    retry_backoff_s: float = Field(
        0.5, ge=0, description="First retry delay of an unexpectedly failed profile; doubles."
    )

    # --- limits (bad input is rejected before or while decoding)
    max_video_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="Largest input video, in bytes.")
    max_video_pixels: int = Field(
        3840 * 2160, ge=64 * 64, description="Largest input frame (width x height) accepted."
    )
    max_video_s: float = Field(600.0, gt=0, description="Longest input video accepted, in seconds.")
    min_video_s: float = Field(0.5, gt=0, description="Shortest input video accepted, in seconds.")
    max_fps: float = Field(120.0, gt=0, description="Highest input frame rate accepted.")
    max_image_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest input image, in bytes.")
    max_image_pixels: int = Field(40_000_000, ge=1024, description="Largest input image, in pixels.")
    max_budget_s: float = Field(120.0, gt=0, description="Longest clip a request may ask for, in seconds.")
    min_budget_s: float = Field(
        1.0,
        gt=0,
        description="Shortest clip a request may ask for, in seconds (shorter budgets are rejected "
        "before the video is decoded).",
    )
    decode_cache_mb: int = Field(
        256,
        ge=0,
        description="Decoded frames kept per job for the render, in MiB, so a summary decodes its "
        "source once; longer or larger sources are decoded a second time (0: always).",
    )
    default_budget_s: float = Field(15.0, gt=0, description="Clip length of requests that name none.")
    default_aspect: str = Field("9:16", description="Slot aspect ratio of requests that name no size.")

    # --- shot segmentation (PySceneDetect detectors on downscaled frames)
    analysis_width: int = Field(
        320, ge=64, le=1920, description="Frames are analysed at this width (detectors, scores)."
    )
    hard_cut_detector: HardCutDetector = Field(
        "adaptive", description="PySceneDetect detector for hard cuts: adaptive, content, histogram or none."
    )
    content_threshold: float = Field(27.0, gt=0, description="ContentDetector threshold (HSV change).")
    adaptive_threshold: float = Field(3.0, gt=0, description="AdaptiveDetector ratio to its rolling mean.")
    adaptive_min_content: float = Field(15.0, ge=0, description="AdaptiveDetector minimum content value.")
    histogram_threshold: float = Field(0.2, gt=0, lt=1, description="HistogramDetector threshold (0..1).")
    fade_detector: bool = Field(
        True, description="Detect fades through a solid picture (black or white, holds included)."
    )
    fade_depth: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="A fade's darkest (or brightest) frame keeps at most this share of the contrast "
        "around it.",
    )
    dissolve_detector: bool = Field(True, description="Detect dissolves (local linearity of the frames).")
    dissolve_change: float = Field(
        8.0, gt=0, description="Smallest change (grey levels, 4 frames apart) at the peak of a dissolve."
    )
    dissolve_linearity: float = Field(
        0.22,
        gt=0,
        lt=1,
        description="A dissolve's frame is the mean of its neighbours within this share of the change.",
    )
    dissolve_blend: float = Field(
        0.45,
        gt=0,
        lt=1,
        description="A dissolve's middle is a blend of its ends within this share of their difference.",
    )
    same_picture: float = Field(
        0.6,
        gt=0,
        lt=1,
        description="Aligned thumbnails at least this correlated are the same picture (no boundary).",
    )
    min_shot_s: float = Field(0.25, gt=0, description="Shortest shot; closer boundaries are merged.")
    flash_filter: bool = Field(
        True,
        description="Check proposed cuts: drop flashes, lighting changes, motion and local changes "
        "(captions, passing objects) after which the same picture continues.",
    )
    flash_max_s: float = Field(
        0.6, gt=0, description="Longest flash (bright or dark burst, decay included), in seconds."
    )
    local_change: float = Field(
        0.45,
        gt=0,
        le=1,
        description="A proposed cut that leaves this share of the frame's blocks unchanged is not a cut.",
    )
    max_transition_s: float = Field(2.0, gt=0, description="Longest fade or dissolve, in seconds.")

    # --- scoring
    samples_per_s: float = Field(4.0, gt=0, le=30, description="Frames scored per second of video.")
    face_samples_per_s: float = Field(
        0.25,
        ge=0,
        le=30,
        description="Frames searched for faces per second of each shot (at least one per shot; 0: none).",
    )
    haar_cascade: Path = Field(
        Path("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"),
        description="Haar cascade for faces (Debian `opencv-data`); faces score 0 if missing.",
    )
    weight_quality: float = Field(1.0, description="Score weight of sharpness and exposure.")
    weight_motion: float = Field(0.5, description="Score weight of (moderate) motion.")
    weight_product: float = Field(1.5, description="Score weight of product presence.")
    weight_text: float = Field(-0.5, description="Score weight of on-screen text (negative: overlays clash).")
    weight_faces: float = Field(0.3, description="Score weight of faces.")
    use_model: bool = Field(
        False, description="Embed frames with the `image_classifier` model (else colour histograms)."
    )
    embedding_model: str = Field("image_classifier", description="Model whose `embedding` output is used.")

    # --- selection
    diversity: float = Field(
        0.35, ge=0, le=1, description="MMR trade-off: 0 ranks by score only, 1 by novelty only."
    )
    min_clip_s: float = Field(1.0, gt=0, description="Shortest piece of a shot put in a summary.")
    max_clip_s: float = Field(4.0, gt=0, description="Longest piece of one shot in a summary.")

    # --- rendering
    output_long_side: int = Field(720, ge=64, le=3840, description="Longer side of output clips, pixels.")
    crossfade_s: float = Field(0.2, ge=0, le=2, description="Crossfade between pieces, seconds (0 = cut).")
    crop_smoothing_s: float = Field(0.6, ge=0, description="Time constant of the crop path smoothing.")
    x264_preset: str = Field("veryfast", description="libx264 preset (speed vs size).")
    x264_crf: int = Field(23, ge=0, le=51, description="libx264 constant rate factor (quality).")
    audio_bitrate: int = Field(128_000, ge=16_000, description="AAC bitrate of kept audio, bits/s.")
    animation_fps: int = Field(25, ge=1, le=60, description="Frame rate of image-to-video clips.")
    poster_quality: int = Field(88, ge=1, le=100, description="JPEG quality of poster frames.")
    font_path: Path = Field(_DEJAVU / "DejaVuSans-Bold.ttf", description="Font of overlay text.")
    cjk_font_path: Path = Field(
        Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
        description="Font of overlay text with Chinese characters (Debian `fonts-wqy-microhei`).",
    )
