"""The GenerateCopy RPC and the content.profiles stream stage (text creatives)."""

from __future__ import annotations

import hashlib
from typing import Any

import grpc
from creativeloop.copygen.copywriter import Language, resolve_language, template_of, write_copy
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.logs import get_logger
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CREATIVES
from creativeloop.v1 import common_pb2, copygen_pb2, copygen_pb2_grpc, events_pb2

log = get_logger(__name__)


def generate(
    profile: common_pb2.ContentProfile,
    settings: CopygenSettings,
    *,
    max_candidates: int = 0,
    max_length: int = 0,
    language: int = common_pb2.COPY_LANGUAGE_UNSPECIFIED,
) -> tuple[Language, list[common_pb2.CopyCandidate]]:
    """Validate the inputs (InvalidEvent with a reason) and write the copy; 0 means the default."""
    if not profile.title.strip():
        raise InvalidEvent("empty profile.title")
    if len(profile.title) > settings.max_title_chars:
        raise InvalidEvent(
            f"profile.title has {len(profile.title)} characters, limit {settings.max_title_chars}"
        )
    if not 0 <= max_candidates <= settings.max_candidates_limit:
        raise InvalidEvent(f"max_candidates {max_candidates} outside [0, {settings.max_candidates_limit}]")
    if max_length != 0 and not settings.min_length_limit <= max_length <= settings.max_length_limit:
        raise InvalidEvent(
            f"max_length {max_length} outside [{settings.min_length_limit}, {settings.max_length_limit}]"
            " (0 means the default)"
        )
    if language not in common_pb2.CopyLanguage.values():
        raise InvalidEvent(f"unknown language {language}")
    resolved = resolve_language(language, profile.language)
    candidates = write_copy(
        profile,
        language=resolved,
        max_candidates=max_candidates or settings.max_candidates,
        max_length=max_length or settings.max_length,
    )
    return resolved, candidates


class CopygenServicer(copygen_pb2_grpc.CopyGenerationServiceServicer):
    def __init__(self, settings: CopygenSettings) -> None:
        self._settings = settings

    async def GenerateCopy(
        self,
        request: copygen_pb2.GenerateCopyRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> copygen_pb2.GenerateCopyResponse:
        try:
            if not request.HasField("profile"):
                raise InvalidEvent("missing profile")
            _, candidates = generate(
                request.profile,
                self._settings,
                max_candidates=request.max_candidates,
                max_length=request.max_length,
                language=request.language,
            )
        except InvalidEvent as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.reason)
        return copygen_pb2.GenerateCopyResponse(candidates=candidates)


def text_creative_id(product_id: str, product_version: int, copy_id: str) -> str:
    """Deterministic id of the text creative showing `copy_id` for one product version."""
    digest = hashlib.sha256(f"text\n{product_id}\n{product_version}\n{copy_id}".encode()).hexdigest()
    return "txt-" + digest[:20]


def text_creatives(
    profile: common_pb2.ContentProfile, candidates: list[common_pb2.CopyCandidate], language: Language
) -> list[common_pb2.Creative]:
    """One TEXT creative per candidate, in candidate order."""
    return [
        common_pb2.Creative(
            creative_id=text_creative_id(profile.product_id, profile.product_version, c.copy_id),
            product_id=profile.product_id,
            product_version=profile.product_version,
            format=common_pb2.CREATIVE_FORMAT_TEXT,
            headline=c.text,
            copy_id=c.copy_id,
            attributes={
                "generator": c.generator,
                "template": template_of(c),
                "language": language,
                "length": str(len(c.text)),
            },
        )
        for c in candidates
    ]


class ProfileHandler:
    """content.profiles -> text creatives on `creatives`; the same profile gives the same ids."""

    def __init__(self, settings: CopygenSettings, producer: EventProducer) -> None:
        self._settings = settings
        self._producer = producer
        self._latest_version: dict[str, int] = {}
        self.creatives_published = 0

    async def __call__(self, event: events_pb2.ContentProfileUpdated) -> None:
        profile = event.profile
        if not profile.admission.admitted:
            log.info(
                "profile not admitted",
                product_id=profile.product_id,
                reasons=list(profile.admission.reason_codes),
            )
            return
        if profile.product_version < self._latest_version.get(profile.product_id, -1):
            log.info("stale profile skipped", product_id=profile.product_id, version=profile.product_version)
            return
        language, candidates = generate(
            profile, self._settings, max_candidates=self._settings.creatives_per_profile
        )
        creatives = text_creatives(profile, candidates, language)
        stamp = now_timestamp()
        await self._producer.send_batch(
            CREATIVES,
            [(c.creative_id, events_pb2.CreativeUpdated(creative=c, updated_at=stamp)) for c in creatives],
        )
        self._latest_version[profile.product_id] = profile.product_version
        self.creatives_published += len(creatives)
        log.info("text creatives published", product_id=profile.product_id, creatives=len(creatives))
