"""One stream stage for product-keyed inputs: ordering, deletion, admission, publishing, retirement.

Four stages share this tail: understanding (product.changes -> content.profiles) and the three
generators (content.profiles -> creatives: copygen, imagegen, videogen). Each plugs in
``generate(event) -> [(key, event), ...]`` and `ProfileStage` does the rest, for every record:

1. **Version ordering.** A version older than the newest one handled for the product is
   skipped (a re-read after a crash or rebalance, a DLQ replay, a duplicate); the same version
   again is handled again and republishes the same outputs (idempotent replays).
2. **Deletion.** A ``deleted`` event (`ProductChanged.deleted`, `ContentProfileUpdated.deleted`)
   or a tombstone (null value) under the product id deletes the product at that version (a
   tombstone carries no version: the newest known one). The stage publishes what `on_delete`
   returns (understanding passes the deletion on to content.profiles, then tombstones the
   profile there; generators publish nothing), calls the retirement hook, and from then on
   skips that version and older ones; a newer version re-creates the product.
3. **Admission.** A profile that is not admitted is logged with its reasons and generates
   nothing; it still counts as the product's newest version, so it supersedes the outputs of the
   version before it: the retirement hook gets them with ``paused`` set (the creatives are
   paused, not retired), and the progress keeps them as the product's standing keys, so the next
   admitted version (or a deletion) retires them.
4. **Publishing.** The batch goes out with `EventProducer.send_batch` and is idempotent: keys are
   deterministic (creative ids hash product, version and inputs; assets are content-addressed),
   so a retried or replayed batch rewrites the same latest state on a compacted topic.
5. **Retirement.** When a version supersedes one whose outputs were published, the hook gets a
   `Retirement` with the product id, old and new version and the old version's keys that the new
   batch does not republish (``paused`` when the new version is not admitted); when a product is
   deleted it gets the keys of the version deleted. `creativeloop.kit.lifecycle.CreativeRetirer`
   turns it into state changes on `creatives` (the generators' hook).
   It is called after the new batch is out and before the progress is recorded, so a failure
   in between calls it again on the retry (it must be idempotent). The default only logs.
6. **Progress** (version, deleted, keys) is recorded last, so a crash anywhere before it just
   handles the record again.

Where the versions persist, and why there
-----------------------------------------
`TopicVersionStore` keeps them on `stage.progress`, a small compacted topic of its own
(`StageProgress`, key ``<stage>/<product_id>``, one record per product and stage whenever its
progress changes), rather than deriving them from the stage's output:

- the generators' output is `creatives`, shared by three stages, many records per version,
  and a version that is not admitted or is deleted leaves no trace there, so ordering after
  it could not be derived; the retirement hook needs the keys published per version, which
  `creatives` holds only by scanning it all;
- one small message serves understanding and the generators alike.

A progress record goes to the same partition number as the input record it follows from (the
topic has the input topics' partition count), so on assignment a worker reads back only the
partitions it was given: it pauses them, reads them from the beginning to their end (an
empty poll past the end offsets seen at start, since Tansu's "latest" offset is short), keeps
its own stage's records, then resumes them. Because the broker compacts nothing (Tansu; Apache
Kafka does), the read is bounded by writing a progress record only when the progress changes
(new version, deletion, different keys; never for a replay) and by reading only the assigned
partitions, once, when they are assigned; memory holds one `Progress` per product.
`MemoryVersionStore` is the same without the topic, for unit tests and tools.

>>> import asyncio
>>> from creativeloop.kit.topics import CREATIVES
>>> from creativeloop.v1 import common_pb2
>>> class Sink:  # stands in for EventProducer
...     async def send_batch(self, topic, items):
...         print("published", [key for key, _ in items])
>>> async def generate(event):
...     creative_id = f"txt-{event.profile.product_version}"
...     creative = common_pb2.Creative(creative_id=creative_id, product_id=event.profile.product_id)
...     return [(creative_id, events_pb2.CreativeUpdated(creative=creative))]
>>> async def retire(old):
...     print("retire", old.output_ids, "of version", old.old_version, "for", old.new_version)
>>> stage = ProfileStage("doc", Sink(), CREATIVES, generate, profile_subject, retire=retire)
>>> def profile(version):
...     return events_pb2.ContentProfileUpdated(profile=common_pb2.ContentProfile(
...         product_id="p1", product_version=version, admission=common_pb2.Admission(admitted=True)))
>>> asyncio.run(stage(profile(1)))
published ['txt-1']
>>> asyncio.run(stage(profile(2)))
published ['txt-2']
retire ('txt-1',) of version 1 for 2
>>> stage.versions.get("p1")
Progress(version=2, deleted=False, output_ids=('txt-2',), admitted=True)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message

from creativeloop.kit.codec import InvalidEvent, decode
from creativeloop.kit.consumer import Delivery
from creativeloop.kit.feed import read_to_end
from creativeloop.kit.logs import get_logger
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import STAGE_PROGRESS, Topic
from creativeloop.v1 import events_pb2

log = get_logger(__name__)

In = TypeVar("In", bound=Message)

#: One output record: its key (a creative id; understanding: the product id) and its event.
Keyed = tuple[str, Message]


@dataclass(frozen=True)
class Subject:
    """What the stage needs to know about an input record."""

    product_id: str
    version: int
    deleted: bool = False
    admitted: bool = True
    reasons: tuple[str, ...] = ()


def product_subject(event: events_pb2.ProductChanged) -> Subject:
    """product.changes: every product is handled (understanding decides admission itself)."""
    return Subject(event.product.product_id, event.product.version, deleted=event.deleted)


def profile_subject(event: events_pb2.ContentProfileUpdated) -> Subject:
    """content.profiles: generators create only from admitted profiles."""
    profile = event.profile
    return Subject(
        profile.product_id,
        profile.product_version,
        deleted=event.deleted,
        admitted=profile.admission.admitted,
        reasons=tuple(profile.admission.reason_codes),
    )


@dataclass(frozen=True)
class Progress:
    """How far a stage got with one product: newest version, whether deleted, keys published."""

    version: int
    deleted: bool = False
    #: Keys standing for the product: published for `version`, or (not admitted) the keys of the
    #: version before it, which `version` paused.
    output_ids: tuple[str, ...] = ()
    admitted: bool = True


@dataclass(frozen=True)
class Retirement:
    """Outputs a newer version (or a deletion) supersedes: what retiring old creatives needs."""

    stage: str
    product_id: str
    #: The version whose outputs are superseded; None when the stage knew no earlier version.
    old_version: int | None
    #: The version that supersedes it (the deleting version for a deletion).
    new_version: int
    deleted: bool
    #: Keys published for `old_version` that `new_version` does not publish again.
    output_ids: tuple[str, ...]
    #: `new_version` is not admitted: the outputs are paused, not retired.
    paused: bool = False
    #: Why `new_version` is not admitted (its admission reason codes), when paused.
    reasons: tuple[str, ...] = ()


RetireHook = Callable[[Retirement], Awaitable[None]]


async def log_retirement(retirement: Retirement) -> None:
    """The default retirement hook: log only (generators use `kit.lifecycle.CreativeRetirer`)."""
    log.info(
        "outputs superseded",
        stage=retirement.stage,
        product_id=retirement.product_id,
        old_version=retirement.old_version,
        new_version=retirement.new_version,
        deleted=retirement.deleted,
        outputs=len(retirement.output_ids),
    )


class VersionStore(Protocol):
    """Per-product progress of one stage, for the input partitions the worker owns."""

    async def load(self, partitions: frozenset[int]) -> None:
        """Read back the progress of newly assigned input partitions."""
        ...

    def forget(self, partitions: frozenset[int]) -> None:
        """Drop the progress of input partitions the worker no longer owns."""
        ...

    def get(self, product_id: str) -> Progress | None: ...

    async def put(self, partition: int, product_id: str, progress: Progress) -> None:
        """Record (and persist) `progress` for a product whose records are on input `partition`."""
        ...


class MemoryVersionStore:
    """Progress in memory only: for unit tests and stages that need not survive a restart."""

    def __init__(self) -> None:
        self._progress: dict[str, Progress] = {}
        self._partition_of: dict[str, int] = {}

    async def load(self, partitions: frozenset[int]) -> None:
        return None

    def forget(self, partitions: frozenset[int]) -> None:
        for product_id, partition in list(self._partition_of.items()):
            if partition in partitions:
                del self._partition_of[product_id]
                self._progress.pop(product_id, None)

    def get(self, product_id: str) -> Progress | None:
        return self._progress.get(product_id)

    def remember(self, partition: int, product_id: str, progress: Progress) -> None:
        self._progress[product_id] = progress
        self._partition_of[product_id] = partition

    async def put(self, partition: int, product_id: str, progress: Progress) -> None:
        self.remember(partition, product_id, progress)


#: How `TopicVersionStore` reads its topic: `creativeloop.kit.feed.read_to_end`'s signature.
Reader = Callable[..., Awaitable[tuple[int, list[ConsumerRecord[bytes, bytes]]]]]


def progress_key(stage: str, product_id: str) -> str:
    return f"{stage}/{product_id}"


class TopicVersionStore(MemoryVersionStore):
    """Progress in memory, persisted to the compacted `stage.progress` topic (see the module doc)."""

    def __init__(
        self,
        settings: CommonSettings,
        producer: EventProducer,
        stage: str,
        *,
        topic: Topic = STAGE_PROGRESS,
        read_timeout_s: float = 120.0,
        reader: Reader = read_to_end,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._producer = producer
        self._stage = stage
        self._topic = topic
        self._read_timeout_s = read_timeout_s
        self._reader = reader
        self._partitions: int | None = None

    async def load(self, partitions: frozenset[int]) -> None:
        """Read the assigned partitions' progress records of this stage, to their end."""
        if not partitions:
            return
        self._partitions, records = await self._reader(
            self._settings,
            self._topic.name,
            lambda count: {p % count for p in partitions},
            timeout_s=self._read_timeout_s,
        )
        loaded = 0
        for record in records:
            try:
                progress = decode(events_pb2.StageProgress, record.value)
            except InvalidEvent as exc:
                log.warning("skipped invalid progress record", offset=record.offset, reason=exc.reason)
                continue
            if progress.stage != self._stage or progress.input_partition not in partitions:
                continue
            self.remember(
                progress.input_partition,
                progress.product_id,
                Progress(
                    progress.version,
                    progress.deleted,
                    tuple(progress.output_ids),
                    admitted=not progress.not_admitted,
                ),
            )
            loaded += 1
        log.info(
            "stage progress loaded",
            stage=self._stage,
            partitions=sorted(partitions),
            records_read=len(records),
            records_kept=loaded,
        )

    async def put(self, partition: int, product_id: str, progress: Progress) -> None:
        if self.get(product_id) == progress:
            return  # unchanged (a replay): nothing new to persist, so the topic does not grow
        if self._partitions is None:
            raise RuntimeError("TopicVersionStore.put before load: load the assigned partitions first")
        await self._producer.send(
            self._topic,
            progress_key(self._stage, product_id),
            events_pb2.StageProgress(
                stage=self._stage,
                product_id=product_id,
                version=progress.version,
                deleted=progress.deleted,
                output_ids=progress.output_ids,
                updated_at=now_timestamp(),
                input_partition=partition,
                not_admitted=not progress.admitted,
            ),
            partition=partition % self._partitions,
        )
        self.remember(partition, product_id, progress)


def _stale(subject: Subject, known: Progress | None) -> bool:
    """Older than the newest version handled, or a version already deleted."""
    if known is None:
        return False
    return subject.version < known.version or (known.deleted and subject.version == known.version)


class ProfileStage(Generic[In]):
    """The shared stage tail: a service gives `generate`, this does the rest (see the module doc).

    `subject` reads product id, version, deletion and admission off an input event
    (`product_subject`, `profile_subject`); `on_delete` gives the records to publish when a product
    is deleted (default none), and `tombstone` follows them with a tombstone under the product id
    (understanding: the profile leaves the compacted content.profiles). `published` counts the
    records published.
    """

    def __init__(
        self,
        name: str,
        producer: EventProducer,
        output: Topic,
        generate: Callable[[In], Awaitable[Sequence[Keyed]]],
        subject: Callable[[In], Subject],
        *,
        versions: VersionStore | None = None,
        retire: RetireHook = log_retirement,
        on_delete: Callable[[Subject], Sequence[Keyed]] | None = None,
        tombstone: bool = False,
    ) -> None:
        self.name = name
        self._producer = producer
        self._output = output
        self._generate = generate
        self._subject = subject
        self.versions: VersionStore = versions if versions is not None else MemoryVersionStore()
        self._retire = retire
        self._on_delete = on_delete
        self._tombstone = tombstone
        self.published = 0

    async def __call__(self, event: In) -> None:
        """Handle one event as if from partition 0 (tests and callers without a consumer)."""
        await self.handle(Delivery(event, "", 0, -1))

    async def assigned(self, partitions: frozenset[int]) -> None:
        await self.versions.load(partitions)

    async def revoked(self, partitions: frozenset[int]) -> None:
        self.versions.forget(partitions)

    async def handle(self, delivery: Delivery[In]) -> None:
        if delivery.event is None:  # a tombstone: the product is deleted at its newest known version
            known = self.versions.get(delivery.key)
            subject = Subject(delivery.key, known.version if known is not None else 0, deleted=True)
        else:
            subject = self._subject(delivery.event)
            known = self.versions.get(subject.product_id)
        if _stale(subject, known):
            assert known is not None
            log.info(
                "stale version skipped",
                stage=self.name,
                product_id=subject.product_id,
                version=subject.version,
                newest=known.version,
                deleted=known.deleted,
            )
            return
        if subject.deleted:
            await self._publish(self._on_delete(subject) if self._on_delete is not None else ())
            if self._tombstone:
                await self._producer.send_tombstone(self._output, subject.product_id)
            await self._retire_superseded(subject, known, keep=())
            await self.versions.put(delivery.partition, subject.product_id, Progress(subject.version, True))
            log.info(
                "product deleted", stage=self.name, product_id=subject.product_id, version=subject.version
            )
            return
        if not subject.admitted:
            log.info(
                "not admitted: nothing generated",
                stage=self.name,
                product_id=subject.product_id,
                version=subject.version,
                reasons=list(subject.reasons),
            )
            standing = known.output_ids if known is not None and not known.deleted else ()
            if known is not None and not known.admitted:
                known = None  # its outputs were paused already (a replay, or another unadmitted version)
            await self._retire_superseded(subject, known, keep=(), paused=True)
            await self.versions.put(
                delivery.partition,
                subject.product_id,
                Progress(subject.version, False, standing, admitted=False),
            )
            return
        assert delivery.event is not None
        outputs = await self._generate(delivery.event)
        await self._publish(outputs)
        keys = tuple(key for key, _ in outputs)
        await self._retire_superseded(subject, known, keep=keys)
        await self.versions.put(
            delivery.partition, subject.product_id, Progress(subject.version, False, keys)
        )

    async def _publish(self, outputs: Sequence[Keyed]) -> None:
        if outputs:
            await self._producer.send_batch(self._output, outputs)
            self.published += len(outputs)

    async def _retire_superseded(
        self, subject: Subject, known: Progress | None, keep: Sequence[str], *, paused: bool = False
    ) -> None:
        if known is None:
            if subject.deleted:
                await self._retire(Retirement(self.name, subject.product_id, None, subject.version, True, ()))
            return
        if known.deleted:
            return  # its outputs were retired when it was deleted
        kept = set(keep)
        gone = tuple(key for key in known.output_ids if key not in kept)
        if gone or subject.deleted:
            await self._retire(
                Retirement(
                    self.name,
                    subject.product_id,
                    known.version,
                    subject.version,
                    subject.deleted,
                    gone,
                    paused=paused,
                    reasons=subject.reasons if paused else (),
                )
            )


__all__ = [
    "Keyed",
    "MemoryVersionStore",
    "ProfileStage",
    "Progress",
    "RetireHook",
    "Retirement",
    "Subject",
    "TopicVersionStore",
    "VersionStore",
    "log_retirement",
    "product_subject",
    "profile_subject",
]
