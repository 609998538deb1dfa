"""`python -m creativeloop.bandit`: the bandit stream service process."""

from __future__ import annotations

import asyncio
import gc
import importlib

from creativeloop.bandit.group import GroupMember
from creativeloop.bandit.settings import BanditSettings
from creativeloop.kit.logs import configure_logging

#: The state is millions of small objects that live long (impression states, user windows): with
#: the default thresholds, young-generation collections run every 700 allocations and keep walking
#: them. Collect young objects every 100,000 allocations instead, and never scan what was loaded at
#: start-up (gc.freeze). Measured: about a third more records per CPU-second (docs/benchmarks.md).
GC_THRESHOLDS = (100_000, 50, 100)


async def run(settings: BanditSettings) -> None:
    """Join the consumer group first; import and start the rest while the join waits (about 6 s on
    Tansu): a restarted worker is SERVING about as soon as it has its partitions back."""
    member = GroupMember(settings)
    await member.start()
    # Imported in a thread, so that the join goes on meanwhile (the one import inside a function
    # that is not an optional dependency: it is about start-up time, docs/operations.md).
    service = await asyncio.to_thread(importlib.import_module, "creativeloop.bandit.service")
    gc.freeze()
    await service.serve(settings, member)


def main() -> None:
    settings = BanditSettings()
    configure_logging(settings.common, "bandit")
    gc.set_threshold(*GC_THRESHOLDS)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
