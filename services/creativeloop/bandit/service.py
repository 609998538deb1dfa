"""The bandit process: the faust app as a background task of the kit's `ServiceRuntime`.

faust runs without its `Worker` (which would take over the event loop, signals and logging):
`app.start()` inside our own asyncio loop, next to the gRPC health service and `/metrics`.
Health turns SERVING once faust has recovered its tables and consumes; SIGTERM/SIGINT stop the
runtime, which cancels the faust task, which stops the app (commit, flush) before exiting.
"""

from __future__ import annotations

from creativeloop.bandit.group import GroupMember
from creativeloop.bandit.settings import BanditSettings
from creativeloop.bandit.streams import BanditStreams
from creativeloop.kit.server import ServiceRuntime


async def serve(settings: BanditSettings, member: GroupMember | None = None) -> None:
    """Run the bandit; `member`: a group member already joining (see `creativeloop.bandit.group`)."""
    streams = BanditStreams(settings, member)

    async def consuming() -> None:
        await streams.ready.wait()

    runtime = ServiceRuntime(
        service="bandit",
        settings=settings,
        servicers=[],
        tasks=[streams.run],
        ready_check=consuming,
    )
    await runtime.run()
