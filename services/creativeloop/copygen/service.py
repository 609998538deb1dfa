"""The GenerateCopy RPC and the content.profiles stream stage (text creatives)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from typing import Any

import grpc

from creativeloop.copygen.compose import Composition, compose
from creativeloop.copygen.copywriter import Language, resolve_language, template_of
from creativeloop.copygen.generator import CopyModel, GeneratorUnavailable
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.copygen.slots import SLOTS, resolve_slot
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.lifecycle import CreativeRetirer
from creativeloop.kit.logs import get_logger
from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.factory import model_client_from_settings
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.stage import (
    Keyed,
    ProfileStage,
    RetireHook,
    VersionStore,
    profile_subject,
)
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CREATIVES
from creativeloop.v1 import common_pb2, copygen_pb2, copygen_pb2_grpc, events_pb2

log = get_logger(__name__)


class Generators:
    """The learned generator when it can be loaded (per settings), else None with the reason why.

    Loaded on first use. A missing model is logged and copy comes from templates; loading is
    retried every `RETRY_S` (a Triton server may come up after copygen). With `generator = "auto"`
    health ignores it, with `generator = "model"` health is NOT_SERVING until it loads.
    """

    RETRY_S = 60.0

    def __init__(self, settings: CopygenSettings, client: ModelClient | None = None) -> None:
        self._settings = settings
        self._client = client
        self._model: CopyModel | None = None
        self._tried_at: float | None = None
        self._lock = threading.Lock()
        self.status = "not loaded"

    @property
    def client(self) -> ModelClient | None:
        return self._client

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model(self) -> CopyModel | None:
        with self._lock:  # RPCs and the stream call this from worker threads
            now = time.monotonic()
            if self._model is None and (self._tried_at is None or now - self._tried_at >= self.RETRY_S):
                self._tried_at = now
                self._load()
            return self._model

    def _load(self) -> None:
        if self._settings.generator == "template":
            self.status = "templates only (setting)"
            return
        try:
            if self._client is None:
                self._client = model_client_from_settings(self._settings.models)
            self._model = CopyModel(self._client, self._settings.models.repository)
            self.status = f"model {self._model.version}"
            log.info("copy generator loaded", version=self._model.version, backend=self._client.backend)
        except GeneratorUnavailable as error:
            self.status = f"model unavailable: {error}"
            log.warning("copy generator unavailable, using templates", reason=str(error))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _validate(
    profile: common_pb2.ContentProfile,
    settings: CopygenSettings,
    max_candidates: int,
    max_length: int,
    language: int,
) -> None:
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


def compose_copy(
    profile: common_pb2.ContentProfile,
    settings: CopygenSettings,
    *,
    max_candidates: int = 0,
    max_length: int = 0,
    language: int = common_pb2.COPY_LANGUAGE_UNSPECIFIED,
    slot: str = "",
    generators: Generators | None = None,
    templates_only: bool = False,
) -> tuple[Language, Composition]:
    """Validate the inputs (InvalidEvent with a reason) and compose the copy; 0 means the default."""
    _validate(profile, settings, max_candidates, max_length, language)
    try:
        chosen_slot = resolve_slot(slot, max_length, settings.max_length)
    except KeyError:
        raise InvalidEvent(f"unknown slot {slot!r}; known: {sorted(SLOTS)}") from None
    resolved = resolve_language(language, profile.language)
    model = None if templates_only or generators is None else generators.model()
    composition = compose(
        profile,
        language=resolved,
        slot=chosen_slot,
        max_candidates=max_candidates or settings.max_candidates,
        model=model,
        model_samples=settings.model_samples,
        diversity=settings.diversity,
    )
    if composition.dropped_compliance:
        log.info(
            "copy drafts dropped by ad-law check",
            product_id=profile.product_id,
            dropped=composition.dropped_compliance,
        )
    return resolved, composition


def generate(
    profile: common_pb2.ContentProfile,
    settings: CopygenSettings,
    *,
    max_candidates: int = 0,
    max_length: int = 0,
    language: int = common_pb2.COPY_LANGUAGE_UNSPECIFIED,
    slot: str = "",
    generators: Generators | None = None,
) -> tuple[Language, list[common_pb2.CopyCandidate]]:
    """`compose_copy` without the explanations: (language, candidates best first)."""
    resolved, composition = compose_copy(
        profile,
        settings,
        max_candidates=max_candidates,
        max_length=max_length,
        language=language,
        slot=slot,
        generators=generators,
    )
    return resolved, composition.candidates


class CopygenServicer(copygen_pb2_grpc.CopyGenerationServiceServicer):
    def __init__(self, settings: CopygenSettings, generators: Generators | None = None) -> None:
        self._settings = settings
        self._generators = generators or Generators(settings)

    async def GenerateCopy(
        self,
        request: copygen_pb2.GenerateCopyRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> copygen_pb2.GenerateCopyResponse:
        try:
            if not request.HasField("profile"):
                raise InvalidEvent("missing profile")
            language, composition = await asyncio.to_thread(
                compose_copy,
                request.profile,
                self._settings,
                max_candidates=request.max_candidates,
                max_length=request.max_length,
                language=request.language,
                slot=request.slot,
                generators=self._generators,
                templates_only=request.templates_only,
            )
        except InvalidEvent as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.reason)
        return copygen_pb2.GenerateCopyResponse(
            candidates=composition.candidates,
            explanations=composition.explanations,
            language=language,
            generator_status=self._generators.status,
        )


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
    """content.profiles -> text creatives on `creatives`; the same profile gives the same ids.

    `generate` writes the copy; the kit's `ProfileStage` does admission, version ordering
    (persisted with a `TopicVersionStore`), deletion, publishing and retirement.
    """

    def __init__(
        self,
        settings: CopygenSettings,
        producer: EventProducer,
        generators: Generators | None = None,
        *,
        versions: VersionStore | None = None,
        retire: RetireHook | None = None,
    ) -> None:
        self._settings = settings
        self._generators = generators
        self.stage = ProfileStage(
            "copygen",
            producer,
            CREATIVES,
            self.generate,
            profile_subject,
            versions=versions,
            retire=retire if retire is not None else CreativeRetirer(producer),
        )

    @property
    def creatives_published(self) -> int:
        return self.stage.published

    async def __call__(self, event: events_pb2.ContentProfileUpdated) -> None:
        await self.stage(event)

    async def generate(self, event: events_pb2.ContentProfileUpdated) -> list[Keyed]:
        profile = event.profile
        language, candidates = await asyncio.to_thread(
            generate,
            profile,
            self._settings,
            max_candidates=self._settings.creatives_per_profile,
            slot=self._settings.creatives_slot,
            generators=self._generators,
        )
        creatives = text_creatives(profile, candidates, language)
        stamp = now_timestamp()
        log.info("text creatives generated", product_id=profile.product_id, creatives=len(creatives))
        return [(c.creative_id, events_pb2.CreativeUpdated(creative=c, updated_at=stamp)) for c in creatives]
